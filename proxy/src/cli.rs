//! The binary's configuration: one clap definition gives each setting its flag, its
//! environment variable, its default and its `--help` line (README's table is checked
//! against `--help` by a test). [`Config::from_args`] then checks the values, naming the
//! variable at fault.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use terra_connect_proxy::{Credentials, IpNet};

/// terra-connect-proxy: forwards terra-connect's requests to Terra with your credentials.
///
/// With no TERRA_DEV_ID / TERRA_API_KEY it runs the built-in Terra sandbox. Every setting is
/// a flag or its environment variable; a flag wins over its variable.
#[derive(Parser, Debug, Clone, Default)]
#[command(name = "terra-connect-proxy", version, about, long_about = None, max_term_width = 100)]
pub struct Args {
    /// Terra developer id; with TERRA_API_KEY unset too, the binary runs the sandbox
    #[arg(long, env = "TERRA_DEV_ID", hide_env_values = true, value_name = "ID")]
    pub dev_id: Option<String>,
    /// Terra API key (never logged, never answered)
    #[arg(long, env = "TERRA_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Terra's API base (older: https://api.tryterra.co/v2)
    #[arg(long, env = "TERRA_API_BASE", value_name = "URL", default_value = "https://access.tryterra.co/api/v2")]
    pub api_base: Option<String>,
    /// Listen address (port 0 picks a free port; the first stdout line prints it)
    #[arg(long, env = "TERRA_CONNECT_ADDR", value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub addr: Option<String>,
    /// Comma-separated origins redirect URLs may point to (e.g. https://app.example); unset: any https
    #[arg(long, env = "TERRA_CONNECT_ALLOWED_REDIRECTS", value_name = "ORIGINS")]
    pub allowed_redirects: Option<String>,
    /// Comma-separated providers sessions may be created for; unset: the account's providers, Terra's GET /integrations/detailed (also served at GET /providers)
    #[arg(long, env = "TERRA_CONNECT_ALLOWED_RESOURCES", value_name = "PROVIDERS")]
    pub allowed_resources: Option<String>,
    /// Comma-separated origins allowed to call cross-origin; others get no CORS headers
    #[arg(long, env = "TERRA_CONNECT_CORS_ORIGINS", value_name = "ORIGINS")]
    pub cors_origins: Option<String>,
    /// Timeout of one call to Terra, in milliseconds (then 504)
    #[arg(long, env = "TERRA_CONNECT_UPSTREAM_TIMEOUT_MS", value_name = "MS", default_value = "10000")]
    pub upstream_timeout_ms: Option<String>,
    /// Requests per minute per client address (then 429 with Retry-After); unset: no limit
    #[arg(long, env = "TERRA_CONNECT_RATE_LIMIT", value_name = "PER_MINUTE")]
    pub rate_limit: Option<String>,
    /// Comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed
    #[arg(long, env = "TERRA_CONNECT_TRUSTED_PROXIES", value_name = "CIDRS")]
    pub trusted_proxies: Option<String>,
    /// Terra's webhook signing secret; enables POST /api/terra/webhook (sandbox: random)
    #[arg(long, env = "TERRA_WEBHOOK_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub webhook_secret: Option<String>,
    /// Where every verified webhook event is forwarded unchanged; unset: data events are logged and dropped
    #[arg(long, env = "TERRA_CONNECT_WEBHOOK_FORWARD_URL", value_name = "URL")]
    pub webhook_forward_url: Option<String>,
    /// Redis URL (redis://host:port/db) of the state several instances share; unset: this process's memory
    #[arg(long, env = "TERRA_CONNECT_REDIS_URL", hide_env_values = true, value_name = "URL")]
    pub redis_url: Option<String>,
    /// Put before every Redis key and channel, so several deployments can share one Redis
    #[arg(long, env = "TERRA_CONNECT_REDIS_PREFIX", value_name = "PREFIX", default_value = "terra-connect:")]
    pub redis_prefix: Option<String>,
    /// Widget API: current, or legacy ({base}/auth/generateWidgetSession, deprecated by Terra)
    #[arg(long, env = "TERRA_CONNECT_WIDGET_API", value_name = "API", default_value = "current")]
    pub widget_api: Option<String>,
    /// Fixed URL of Terra's current widget endpoint; unset: {origin}/api/widget/session, then on 404 {origin}/widget/api/session
    #[arg(long, env = "TERRA_WIDGET_URL", value_name = "URL")]
    pub widget_url: Option<String>,
    /// The most connections served at once (others wait to be accepted)
    #[arg(long, env = "TERRA_CONNECT_MAX_CONNECTIONS", value_name = "N", default_value = "1024")]
    pub max_connections: Option<String>,
    /// A request whose headers are not complete in this many milliseconds is closed
    #[arg(long, env = "TERRA_CONNECT_HEADER_TIMEOUT_MS", value_name = "MS", default_value = "30000")]
    pub header_timeout_ms: Option<String>,
    /// A keep-alive connection with no request for this many milliseconds is closed
    #[arg(long, env = "TERRA_CONNECT_IDLE_TIMEOUT_MS", value_name = "MS", default_value = "30000")]
    pub idle_timeout_ms: Option<String>,
    /// Sandbox only: how long a widget session lives, in seconds
    #[arg(long, env = "TERRA_SANDBOX_WIDGET_TTL_SECS", value_name = "SECS", default_value = "900")]
    pub sandbox_widget_ttl_secs: Option<String>,
    /// Sandbox only: the sandbox's listen address, loopback only (port 0 picks a free port)
    #[arg(long, env = "TERRA_SANDBOX_ADDR", value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub sandbox_addr: Option<String>,
    /// Sandbox only: the developer id the sandbox accepts (never logged); unset: random
    #[arg(long, env = "TERRA_SANDBOX_DEV_ID", hide_env_values = true, value_name = "ID")]
    pub sandbox_dev_id: Option<String>,
    /// Sandbox only: the API key the sandbox accepts (never logged); unset: random
    #[arg(long, env = "TERRA_SANDBOX_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub sandbox_api_key: Option<String>,
    /// Sandbox only: where the sandbox sends its webhooks, signed with TERRA_WEBHOOK_SECRET; unset: this binary's /api/terra/webhook
    #[arg(long, env = "TERRA_SANDBOX_WEBHOOK_URL", value_name = "URL")]
    pub sandbox_webhook_url: Option<String>,
    /// Static files served at / (the demo; needs the sandbox feature)
    #[arg(long, env = "TERRA_CONNECT_WWW_DIR", value_name = "DIR")]
    pub www_dir: Option<String>,
    /// The npm package served at /pkg/ (the demo; needs the sandbox feature)
    #[arg(long, env = "TERRA_CONNECT_PKG_DIR", value_name = "DIR")]
    pub pkg_dir: Option<String>,
    /// 1: static files are served with Cross-Origin-Opener-Policy: same-origin
    #[arg(long, env = "TERRA_CONNECT_WWW_COOP", value_name = "0|1", default_value = "0")]
    pub www_coop: Option<String>,
    /// 1: the sandbox consent page sends Cross-Origin-Opener-Policy: same-origin
    #[arg(long, env = "TERRA_SANDBOX_COOP", value_name = "0|1", default_value = "0")]
    pub sandbox_coop: Option<String>,
    /// Log format: text, or json for JSON lines (no colours unless stderr is a terminal)
    #[arg(long, env = "TERRA_CONNECT_LOG_FORMAT", value_name = "FORMAT", default_value = "text")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or terra_connect_proxy=debug
    #[arg(long, env = "RUST_LOG", value_name = "FILTER", default_value = "info")]
    pub log: Option<String>,
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything the binary needs, checked.
#[cfg_attr(not(feature = "sandbox"), allow(dead_code))]
#[derive(Clone, Debug)]
pub struct Config {
    pub credentials: Option<Credentials>,
    pub api_base: String,
    pub addr: SocketAddr,
    pub cors_origins: Vec<String>,
    pub allowed_redirects: Option<Vec<String>>,
    pub allowed_resources: Option<Vec<String>>,
    pub rate_limit: Option<u32>,
    pub trusted_proxies: Vec<IpNet>,
    pub webhook_secret: Option<Secret>,
    pub webhook_forward_url: Option<String>,
    /// The Redis URL (it may hold a password).
    pub redis_url: Option<Secret>,
    pub redis_prefix: String,
    pub widget_legacy: bool,
    pub widget_url: Option<String>,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub sandbox_widget_ttl: Duration,
    /// Where the sandbox listens (a loopback address).
    pub sandbox_addr: SocketAddr,
    /// The developer id the sandbox accepts; `None`: random.
    pub sandbox_dev_id: Option<Secret>,
    /// The API key the sandbox accepts; `None`: random.
    pub sandbox_api_key: Option<Secret>,
    /// Where the sandbox sends its webhooks; `None`: the binary's own webhook route.
    pub sandbox_webhook_url: Option<String>,
    pub upstream_timeout: Duration,
    pub www_dir: Option<PathBuf>,
    pub pkg_dir: Option<PathBuf>,
    pub www_coop: bool,
    pub sandbox_coop: bool,
    pub json_logs: bool,
    pub log_filter: String,
}

/// A configuration value that cannot be used; names the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

fn err(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError { variable, problem: problem.to_owned() }
}

fn text(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn http_url(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(err(variable, "must be an absolute http(s) URL")),
    }
}

fn number<T: std::str::FromStr + PartialOrd + Copy>(
    variable: &'static str,
    value: &Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    problem: &str,
) -> Result<T, ConfigError> {
    match text(value) {
        None => Ok(default),
        Some(v) => match v.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(err(variable, problem)),
        },
    }
}

fn origins(variable: &'static str, value: &Option<String>) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(value) = text(value) else { return Ok(None) };
    let list: Vec<String> =
        value.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect();
    for origin in &list {
        match url::Url::parse(origin) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == *origin => {}
            _ => return Err(err(variable, "must list origins such as https://app.example")),
        }
    }
    Ok(Some(list))
}

/// A credential the sandbox accepts: sent as an HTTP header, so visible ASCII, at most 256.
fn header_secret(variable: &'static str, value: &Option<String>) -> Result<Option<Secret>, ConfigError> {
    match text(value) {
        None => Ok(None),
        Some(v) if v.len() <= 256 && v.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(Secret(v))),
        Some(_) => Err(err(variable, "must be at most 256 visible ASCII characters, without spaces")),
    }
}

fn flag(variable: &'static str, value: &Option<String>) -> Result<bool, ConfigError> {
    match text(value).as_deref() {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err(err(variable, "must be 0 or 1")),
    }
}

impl Config {
    /// Checks the parsed arguments.
    pub fn from_args(args: &Args) -> Result<Config, ConfigError> {
        let credentials = match (text(&args.dev_id), text(&args.api_key)) {
            (Some(dev_id), Some(api_key)) => Some(Credentials { dev_id, api_key }),
            (None, None) => None,
            (Some(_), None) => return Err(err("TERRA_API_KEY", "is required when TERRA_DEV_ID is set")),
            (None, Some(_)) => return Err(err("TERRA_DEV_ID", "is required when TERRA_API_KEY is set")),
        };
        let api_base = text(&args.api_base).unwrap_or_else(|| "https://access.tryterra.co/api/v2".to_owned());
        http_url("TERRA_API_BASE", &api_base)?;
        let addr = text(&args.addr)
            .unwrap_or_else(|| "127.0.0.1:8787".to_owned())
            .parse()
            .map_err(|_| err("TERRA_CONNECT_ADDR", "must be an address such as 127.0.0.1:8787"))?;
        let allowed_resources = match text(&args.allowed_resources) {
            None => None,
            Some(v) => {
                let list: Vec<String> = v.split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect();
                let well_formed = |r: &String| terra_connect_protocol::is_provider_name(r);
                if list.is_empty() || !list.iter().all(well_formed) {
                    return Err(err(
                        "TERRA_CONNECT_ALLOWED_RESOURCES",
                        "must list provider names such as FITBIT,GARMIN",
                    ));
                }
                Some(list)
            }
        };
        let rate_limit = match text(&args.rate_limit) {
            None => None,
            Some(_) => Some(number(
                "TERRA_CONNECT_RATE_LIMIT",
                &args.rate_limit,
                1u32,
                1..=u32::MAX,
                "must be a whole number of requests per minute, at least 1",
            )?),
        };
        let trusted_proxies = match text(&args.trusted_proxies) {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse::<IpNet>().or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from)))
                .collect::<Result<_, _>>()
                .map_err(|_| err("TERRA_CONNECT_TRUSTED_PROXIES", "must list addresses or CIDRs such as 10.0.0.0/8"))?,
        };
        let widget_legacy = match text(&args.widget_api).as_deref() {
            None | Some("current") => false,
            Some("legacy") => true,
            Some(_) => return Err(err("TERRA_CONNECT_WIDGET_API", "must be current or legacy")),
        };
        let widget_url = text(&args.widget_url);
        if let Some(url) = &widget_url {
            http_url("TERRA_WIDGET_URL", url)?;
        }
        let webhook_forward_url = text(&args.webhook_forward_url);
        if let Some(url) = &webhook_forward_url {
            http_url("TERRA_CONNECT_WEBHOOK_FORWARD_URL", url)?;
        }
        let redis_url = text(&args.redis_url);
        if let Some(url) = &redis_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "redis" | "rediss") && u.host().is_some() => {}
                _ => return Err(err("TERRA_CONNECT_REDIS_URL", "must be a URL such as redis://127.0.0.1:6379/0")),
            }
            if !cfg!(feature = "redis") {
                return Err(err("TERRA_CONNECT_REDIS_URL", "this build has no Redis store (cargo feature `redis`)"));
            }
        }
        let redis_prefix = text(&args.redis_prefix).unwrap_or_else(|| "terra-connect:".into());
        if redis_prefix.len() > 200 || redis_prefix.chars().any(char::is_whitespace) {
            return Err(err("TERRA_CONNECT_REDIS_PREFIX", "must be at most 200 characters, without spaces"));
        }
        let ms = |variable, value: &Option<String>, default: u64| {
            number(variable, value, default, 1..=600_000, "must be milliseconds from 1 to 600000")
                .map(Duration::from_millis)
        };
        let sandbox_addr: SocketAddr = text(&args.sandbox_addr)
            .unwrap_or_else(|| "127.0.0.1:0".to_owned())
            .parse()
            .map_err(|_| err("TERRA_SANDBOX_ADDR", "must be an address such as 127.0.0.1:0"))?;
        if !sandbox_addr.ip().is_loopback() {
            return Err(err(
                "TERRA_SANDBOX_ADDR",
                "must be a loopback address such as 127.0.0.1:8788 (the sandbox is for this machine only)",
            ));
        }
        let sandbox_webhook_url = text(&args.sandbox_webhook_url);
        if let Some(url) = &sandbox_webhook_url {
            http_url("TERRA_SANDBOX_WEBHOOK_URL", url)?;
        }
        let log_format = text(&args.log_format).unwrap_or_else(|| "text".into());
        if !matches!(log_format.as_str(), "text" | "json") {
            return Err(err("TERRA_CONNECT_LOG_FORMAT", "must be text or json"));
        }
        Ok(Config {
            credentials,
            api_base: api_base.trim_end_matches('/').to_owned(),
            addr,
            cors_origins: origins("TERRA_CONNECT_CORS_ORIGINS", &args.cors_origins)?.unwrap_or_default(),
            allowed_redirects: origins("TERRA_CONNECT_ALLOWED_REDIRECTS", &args.allowed_redirects)?,
            allowed_resources,
            rate_limit,
            trusted_proxies,
            webhook_secret: text(&args.webhook_secret).map(Secret),
            webhook_forward_url,
            redis_url: redis_url.map(Secret),
            redis_prefix,
            widget_legacy,
            widget_url,
            max_connections: number(
                "TERRA_CONNECT_MAX_CONNECTIONS",
                &args.max_connections,
                1024usize,
                1..=1_000_000,
                "must be a number of connections from 1 to 1000000",
            )?,
            header_timeout: ms("TERRA_CONNECT_HEADER_TIMEOUT_MS", &args.header_timeout_ms, 30_000)?,
            idle_timeout: ms("TERRA_CONNECT_IDLE_TIMEOUT_MS", &args.idle_timeout_ms, 30_000)?,
            sandbox_widget_ttl: Duration::from_secs(number(
                "TERRA_SANDBOX_WIDGET_TTL_SECS",
                &args.sandbox_widget_ttl_secs,
                900u64,
                1..=86_400,
                "must be seconds from 1 to 86400",
            )?),
            sandbox_addr,
            sandbox_dev_id: header_secret("TERRA_SANDBOX_DEV_ID", &args.sandbox_dev_id)?,
            sandbox_api_key: header_secret("TERRA_SANDBOX_API_KEY", &args.sandbox_api_key)?,
            sandbox_webhook_url,
            upstream_timeout: ms("TERRA_CONNECT_UPSTREAM_TIMEOUT_MS", &args.upstream_timeout_ms, 10_000)?,
            www_dir: text(&args.www_dir).map(PathBuf::from),
            pkg_dir: text(&args.pkg_dir).map(PathBuf::from),
            www_coop: flag("TERRA_CONNECT_WWW_COOP", &args.www_coop)?,
            sandbox_coop: flag("TERRA_SANDBOX_COOP", &args.sandbox_coop)?,
            json_logs: log_format == "json",
            log_filter: text(&args.log).unwrap_or_else(|| "info".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(flags: &[&str]) -> Result<Config, ConfigError> {
        let args = Args::try_parse_from(std::iter::once("terra-connect-proxy").chain(flags.iter().copied())).unwrap();
        Config::from_args(&args)
    }

    #[test]
    fn defaults_to_sandbox_mode() {
        let c = config(&[]).unwrap();
        assert!(c.credentials.is_none());
        assert_eq!(c.api_base, "https://access.tryterra.co/api/v2");
        assert_eq!(c.addr.to_string(), "127.0.0.1:8787");
        assert_eq!(c.upstream_timeout, Duration::from_secs(10));
        assert_eq!((c.header_timeout, c.idle_timeout), (Duration::from_secs(30), Duration::from_secs(30)));
        assert_eq!(c.max_connections, 1024);
        assert!(c.widget_url.is_none() && !c.widget_legacy);
        assert_eq!(c.sandbox_addr.to_string(), "127.0.0.1:0");
        assert!(c.sandbox_dev_id.is_none() && c.sandbox_api_key.is_none() && c.sandbox_webhook_url.is_none());
    }

    #[test]
    fn reads_the_sandbox_settings() {
        let c = config(&[
            "--sandbox-addr",
            "[::1]:8788",
            "--sandbox-dev-id",
            "sandbox-dev",
            "--sandbox-api-key",
            "sandbox-key-SECRET",
            "--sandbox-webhook-url",
            "http://127.0.0.1:9999/hook",
        ])
        .unwrap();
        assert_eq!(c.sandbox_addr.to_string(), "[::1]:8788");
        assert_eq!(c.sandbox_dev_id, Some(Secret("sandbox-dev".into())));
        assert_eq!(c.sandbox_api_key, Some(Secret("sandbox-key-SECRET".into())));
        assert_eq!(c.sandbox_webhook_url.as_deref(), Some("http://127.0.0.1:9999/hook"));
        assert!(!format!("{c:?}").contains("sandbox-key-SECRET") && !format!("{c:?}").contains("sandbox-dev"));
    }

    #[test]
    fn reads_everything() {
        let c = config(&[
            "--dev-id=dev",
            "--api-key",
            "secret-key",
            "--api-base",
            "https://api.tryterra.co/v2/",
            "--addr",
            "0.0.0.0:9000",
            "--cors-origins",
            "https://app.example, http://127.0.0.1:8000/",
            "--upstream-timeout-ms",
            "2500",
            "--trusted-proxies",
            "10.0.0.0/8, 192.0.2.1,2001:db8::/32",
            "--webhook-forward-url",
            "https://internal.example/terra",
            "--redis-url",
            "redis://:redis-password@127.0.0.1:6390/2",
        ])
        .unwrap();
        assert_eq!(c.redis_url.as_ref().map(|u| u.0.as_str()), Some("redis://:redis-password@127.0.0.1:6390/2"));
        assert_eq!(c.redis_prefix, "terra-connect:");
        assert!(!format!("{c:?}").contains("redis-password"));
        assert_eq!(c.api_base, "https://api.tryterra.co/v2");
        assert_eq!(c.cors_origins, ["https://app.example", "http://127.0.0.1:8000"]);
        assert_eq!(c.upstream_timeout, Duration::from_millis(2500));
        assert_eq!(c.trusted_proxies.len(), 3);
        assert_eq!(c.trusted_proxies[1].to_string(), "192.0.2.1/32");
        assert!(!format!("{c:?}").contains("secret-key"));
    }

    #[test]
    fn names_the_bad_variable() {
        let cases: [(&[&str], &str); 26] = [
            (&["--dev-id", "dev"], "TERRA_API_KEY"),
            (&["--api-key", "k"], "TERRA_DEV_ID"),
            (&["--api-base", "ftp://x"], "TERRA_API_BASE"),
            (&["--addr", "localhost"], "TERRA_CONNECT_ADDR"),
            (&["--cors-origins", "https://a.example/path"], "TERRA_CONNECT_CORS_ORIGINS"),
            (&["--upstream-timeout-ms", "0"], "TERRA_CONNECT_UPSTREAM_TIMEOUT_MS"),
            (&["--sandbox-coop", "yes"], "TERRA_SANDBOX_COOP"),
            (&["--allowed-redirects", "app.example"], "TERRA_CONNECT_ALLOWED_REDIRECTS"),
            (&["--allowed-resources", "FIT BIT"], "TERRA_CONNECT_ALLOWED_RESOURCES"),
            (&["--rate-limit", "0"], "TERRA_CONNECT_RATE_LIMIT"),
            (&["--rate-limit", "ten"], "TERRA_CONNECT_RATE_LIMIT"),
            (&["--widget-api", "v3"], "TERRA_CONNECT_WIDGET_API"),
            (&["--widget-url", "widget"], "TERRA_WIDGET_URL"),
            (&["--sandbox-widget-ttl-secs", "0"], "TERRA_SANDBOX_WIDGET_TTL_SECS"),
            (&["--www-coop", "true"], "TERRA_CONNECT_WWW_COOP"),
            (&["--trusted-proxies", "10.0.0.0/33"], "TERRA_CONNECT_TRUSTED_PROXIES"),
            (&["--webhook-forward-url", "nowhere"], "TERRA_CONNECT_WEBHOOK_FORWARD_URL"),
            (&["--max-connections", "0"], "TERRA_CONNECT_MAX_CONNECTIONS"),
            (&["--idle-timeout-ms", "x"], "TERRA_CONNECT_IDLE_TIMEOUT_MS"),
            (&["--redis-url", "http://127.0.0.1:6379"], "TERRA_CONNECT_REDIS_URL"),
            (&["--redis-prefix", "two words"], "TERRA_CONNECT_REDIS_PREFIX"),
            (&["--sandbox-addr", "0.0.0.0:8788"], "TERRA_SANDBOX_ADDR"),
            (&["--sandbox-addr", "localhost"], "TERRA_SANDBOX_ADDR"),
            (&["--sandbox-dev-id", "two words"], "TERRA_SANDBOX_DEV_ID"),
            (&["--sandbox-api-key", "caf\u{e9}"], "TERRA_SANDBOX_API_KEY"),
            (&["--sandbox-webhook-url", "nowhere"], "TERRA_SANDBOX_WEBHOOK_URL"),
        ];
        for (flags, variable) in cases {
            assert_eq!(config(flags).unwrap_err().variable, variable, "{flags:?}");
        }
    }
}
