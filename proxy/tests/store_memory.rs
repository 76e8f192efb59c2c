//! The memory store passes the same conformance suite as Redis, as one instance (the same
//! store stands for "both instances").

mod store_suite;

use std::sync::Arc;

use terra_connect_proxy::store::Store;
use terra_connect_proxy::MemoryStore;

fn one() -> (Arc<dyn Store>, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    (store.clone(), store)
}

macro_rules! suite_on_one_instance {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let (a, b) = one();
            store_suite::$check(a, b).await;
        }
    )*};
}

suite_on_one_instance!(
    claim_finish_release,
    concurrent_claims,
    leases_and_keeps_expire,
    record_wakes_waiter,
    many_waiters,
    recorded_before_and_expiry,
    revoke_stops_confirming,
    revocation_expires,
    rate_limit_shared,
    rate_limit_concurrent,
    rate_limit_refills,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_times_out_and_ping() {
    let (a, _) = one();
    store_suite::wait_times_out(a.clone()).await;
    store_suite::ping(a).await;
}
