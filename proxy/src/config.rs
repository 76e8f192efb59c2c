//! The proxy's configuration: one struct, read from the environment (README has the table).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Terra's current API base URL.
pub const DEFAULT_API_BASE: &str = "https://access.tryterra.co/api/v2";
/// Where the binary listens by default.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8787";
/// How long one call to Terra may take by default.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Terra's developer id and API key. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Sent as the `dev-id` header.
    pub dev_id: String,
    /// Sent as the `x-api-key` header.
    pub api_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { dev_id: <redacted>, api_key: <redacted> }")
    }
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything the binary needs; the library takes the parts it uses through [`crate::ProxyBuilder`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Terra credentials; `None` starts the built-in sandbox.
    pub credentials: Option<Credentials>,
    /// Terra's API base URL (`TERRA_API_BASE`).
    pub api_base: String,
    /// Listen address (`TERRA_CONNECT_ADDR`).
    pub addr: SocketAddr,
    /// Browser origins allowed to call the proxy cross-origin (`TERRA_CONNECT_CORS_ORIGINS`).
    pub cors_origins: Vec<String>,
    /// Origins redirect URLs may point to (`TERRA_CONNECT_ALLOWED_REDIRECTS`); `None`: any https.
    pub allowed_redirects: Option<Vec<String>>,
    /// Providers sessions may be created for (`TERRA_CONNECT_ALLOWED_RESOURCES`); `None`:
    /// Terra's live list.
    pub allowed_resources: Option<Vec<String>>,
    /// Requests per minute per client address (`TERRA_CONNECT_RATE_LIMIT`); `None`: no limit.
    pub rate_limit: Option<u32>,
    /// Terra's webhook signing secret (`TERRA_WEBHOOK_SECRET`); enables `POST /webhook`.
    /// In sandbox mode a random one is made when unset.
    pub webhook_secret: Option<Secret>,
    /// The widget API: `current` (default) or `legacy` (`TERRA_CONNECT_WIDGET_API`).
    pub widget_legacy: bool,
    /// The current widget endpoint (`TERRA_WIDGET_URL`).
    pub widget_url: String,
    /// Sandbox only: how long a widget session lives (`TERRA_SANDBOX_WIDGET_TTL_SECS`, 900).
    pub sandbox_widget_ttl: Duration,
    /// Timeout of one call to Terra (`TERRA_CONNECT_UPSTREAM_TIMEOUT_MS`).
    pub upstream_timeout: Duration,
    /// Static files served at `/` (`TERRA_CONNECT_WWW_DIR`), for the demo.
    pub www_dir: Option<PathBuf>,
    /// The npm package served at `/pkg/` (`TERRA_CONNECT_PKG_DIR`), for the demo.
    pub pkg_dir: Option<PathBuf>,
    /// Serve the static files with `Cross-Origin-Opener-Policy: same-origin`
    /// (`TERRA_CONNECT_WWW_COOP=1`), as apps that isolate their pages do.
    pub www_coop: bool,
    /// Sandbox only: serve the consent page with `Cross-Origin-Opener-Policy: same-origin`
    /// (`TERRA_SANDBOX_COOP=1`), as many real login providers do.
    pub sandbox_coop: bool,
}

/// A configuration value that cannot be used; names the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Every setting: its environment variable and its matching command-line flag.
pub const SETTINGS: [(&str, &str); 19] = [
    ("TERRA_DEV_ID", "--dev-id"),
    ("TERRA_API_KEY", "--api-key"),
    ("TERRA_API_BASE", "--api-base"),
    ("TERRA_CONNECT_ADDR", "--addr"),
    ("TERRA_CONNECT_ALLOWED_REDIRECTS", "--allowed-redirects"),
    ("TERRA_CONNECT_ALLOWED_RESOURCES", "--allowed-resources"),
    ("TERRA_CONNECT_CORS_ORIGINS", "--cors-origins"),
    ("TERRA_CONNECT_UPSTREAM_TIMEOUT_MS", "--upstream-timeout-ms"),
    ("TERRA_CONNECT_RATE_LIMIT", "--rate-limit"),
    ("TERRA_WEBHOOK_SECRET", "--webhook-secret"),
    ("TERRA_CONNECT_WIDGET_API", "--widget-api"),
    ("TERRA_WIDGET_URL", "--widget-url"),
    ("TERRA_SANDBOX_WIDGET_TTL_SECS", "--sandbox-widget-ttl-secs"),
    ("TERRA_CONNECT_WWW_DIR", "--www-dir"),
    ("TERRA_CONNECT_PKG_DIR", "--pkg-dir"),
    ("TERRA_CONNECT_WWW_COOP", "--www-coop"),
    ("TERRA_SANDBOX_COOP", "--sandbox-coop"),
    ("TERRA_CONNECT_LOG_FORMAT", "--log-format"),
    ("RUST_LOG", "--log"),
];

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `var` (a stand-in for the environment in tests).
    /// Empty values count as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let err = |variable: &'static str, problem: &str| ConfigError { variable, problem: problem.to_owned() };

        let credentials = match (get("TERRA_DEV_ID"), get("TERRA_API_KEY")) {
            (Some(dev_id), Some(api_key)) => Some(Credentials { dev_id, api_key }),
            (None, None) => None,
            (Some(_), None) => return Err(err("TERRA_API_KEY", "is required when TERRA_DEV_ID is set")),
            (None, Some(_)) => return Err(err("TERRA_DEV_ID", "is required when TERRA_API_KEY is set")),
        };
        let api_base = get("TERRA_API_BASE").unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        match url::Url::parse(&api_base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Err(err("TERRA_API_BASE", "must be an absolute http(s) URL")),
        }
        let addr = get("TERRA_CONNECT_ADDR")
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
            .parse()
            .map_err(|_| err("TERRA_CONNECT_ADDR", "must be an address such as 127.0.0.1:8787"))?;
        let origins = |variable: &'static str| -> Result<Option<Vec<String>>, ConfigError> {
            let Some(value) = get(variable) else { return Ok(None) };
            let list: Vec<String> =
                value.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect();
            for origin in &list {
                match url::Url::parse(origin) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == *origin => {}
                    _ => return Err(err(variable, "must list origins such as https://app.example")),
                }
            }
            Ok(Some(list))
        };
        let allowed_redirects = origins("TERRA_CONNECT_ALLOWED_REDIRECTS")?;
        let allowed_resources = match get("TERRA_CONNECT_ALLOWED_RESOURCES") {
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
        let rate_limit = match get("TERRA_CONNECT_RATE_LIMIT") {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(err(
                        "TERRA_CONNECT_RATE_LIMIT",
                        "must be a whole number of requests per minute, at least 1",
                    ))
                }
            },
        };
        let cors_origins = origins("TERRA_CONNECT_CORS_ORIGINS")?.unwrap_or_default();
        let widget_legacy = match get("TERRA_CONNECT_WIDGET_API").as_deref() {
            None | Some("current") => false,
            Some("legacy") => true,
            Some(_) => return Err(err("TERRA_CONNECT_WIDGET_API", "must be current or legacy")),
        };
        let widget_url = get("TERRA_WIDGET_URL").unwrap_or_else(|| crate::terra::DEFAULT_WIDGET_URL.to_owned());
        match url::Url::parse(&widget_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Err(err("TERRA_WIDGET_URL", "must be an absolute http(s) URL")),
        }
        let sandbox_widget_ttl = match get("TERRA_SANDBOX_WIDGET_TTL_SECS") {
            None => Duration::from_secs(900),
            Some(v) => match v.parse::<u64>() {
                Ok(s) if (1..=86_400).contains(&s) => Duration::from_secs(s),
                _ => return Err(err("TERRA_SANDBOX_WIDGET_TTL_SECS", "must be seconds from 1 to 86400")),
            },
        };
        let upstream_timeout = match get("TERRA_CONNECT_UPSTREAM_TIMEOUT_MS") {
            None => DEFAULT_UPSTREAM_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if (1..=600_000).contains(&ms) => Duration::from_millis(ms),
                _ => return Err(err("TERRA_CONNECT_UPSTREAM_TIMEOUT_MS", "must be milliseconds from 1 to 600000")),
            },
        };
        let flag = |variable: &'static str| match get(variable).as_deref() {
            None | Some("0") => Ok(false),
            Some("1") => Ok(true),
            Some(_) => Err(err(variable, "must be 0 or 1")),
        };
        let sandbox_coop = flag("TERRA_SANDBOX_COOP")?;
        let www_coop = flag("TERRA_CONNECT_WWW_COOP")?;
        Ok(Config {
            credentials,
            api_base: api_base.trim_end_matches('/').to_owned(),
            addr,
            cors_origins,
            allowed_redirects,
            allowed_resources,
            rate_limit,
            webhook_secret: get("TERRA_WEBHOOK_SECRET").map(Secret),
            widget_legacy,
            widget_url,
            sandbox_widget_ttl,
            upstream_timeout,
            www_dir: get("TERRA_CONNECT_WWW_DIR").map(PathBuf::from),
            pkg_dir: get("TERRA_CONNECT_PKG_DIR").map(PathBuf::from),
            www_coop,
            sandbox_coop,
        })
    }
}

/// Maps `--flag value` (or `--flag=value`) arguments to their variables.
pub fn parse_flags(args: &[String]) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let Some((variable, _)) = SETTINGS.iter().find(|(_, f)| *f == flag) else {
            return Err(ConfigError {
                variable: "command line",
                problem: format!("unknown argument '{arg}' (see --help)"),
            });
        };
        let value = match inline.or_else(|| rest.next().cloned()) {
            Some(v) => v,
            None => return Err(ConfigError { variable, problem: format!("{flag} needs a value") }),
        };
        out.push((*variable, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_to_sandbox_mode() {
        let c = config(&[]).unwrap();
        assert!(c.credentials.is_none());
        assert_eq!(c.api_base, DEFAULT_API_BASE);
        assert_eq!(c.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(c.upstream_timeout, Duration::from_secs(10));
    }

    #[test]
    fn reads_everything() {
        let c = config(&[
            ("TERRA_DEV_ID", "dev"),
            ("TERRA_API_KEY", "secret-key"),
            ("TERRA_API_BASE", "https://api.tryterra.co/v2/"),
            ("TERRA_CONNECT_ADDR", "0.0.0.0:9000"),
            ("TERRA_CONNECT_CORS_ORIGINS", "https://app.example, http://127.0.0.1:8000/"),
            ("TERRA_CONNECT_UPSTREAM_TIMEOUT_MS", "2500"),
        ])
        .unwrap();
        assert_eq!(c.api_base, "https://api.tryterra.co/v2");
        assert_eq!(c.cors_origins, ["https://app.example", "http://127.0.0.1:8000"]);
        assert_eq!(c.upstream_timeout, Duration::from_millis(2500));
        assert!(!format!("{c:?}").contains("secret-key"));
    }

    #[test]
    fn flags_map_to_variables() {
        let args: Vec<String> = ["--addr", "127.0.0.1:0", "--rate-limit=30"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            parse_flags(&args).unwrap(),
            [("TERRA_CONNECT_ADDR", "127.0.0.1:0".to_string()), ("TERRA_CONNECT_RATE_LIMIT", "30".to_string())]
        );
        assert_eq!(parse_flags(&["--nope".to_string()]).unwrap_err().variable, "command line");
        assert_eq!(parse_flags(&["--addr".to_string()]).unwrap_err().variable, "TERRA_CONNECT_ADDR");
    }

    #[test]
    fn names_the_bad_variable() {
        let cases = [
            (vec![("TERRA_DEV_ID", "dev")], "TERRA_API_KEY"),
            (vec![("TERRA_API_KEY", "k")], "TERRA_DEV_ID"),
            (vec![("TERRA_API_BASE", "ftp://x")], "TERRA_API_BASE"),
            (vec![("TERRA_CONNECT_ADDR", "localhost")], "TERRA_CONNECT_ADDR"),
            (vec![("TERRA_CONNECT_CORS_ORIGINS", "https://a.example/path")], "TERRA_CONNECT_CORS_ORIGINS"),
            (vec![("TERRA_CONNECT_UPSTREAM_TIMEOUT_MS", "0")], "TERRA_CONNECT_UPSTREAM_TIMEOUT_MS"),
            (vec![("TERRA_SANDBOX_COOP", "yes")], "TERRA_SANDBOX_COOP"),
            (vec![("TERRA_CONNECT_ALLOWED_REDIRECTS", "app.example")], "TERRA_CONNECT_ALLOWED_REDIRECTS"),
            (vec![("TERRA_CONNECT_ALLOWED_RESOURCES", "FIT BIT")], "TERRA_CONNECT_ALLOWED_RESOURCES"),
            (vec![("TERRA_CONNECT_RATE_LIMIT", "0")], "TERRA_CONNECT_RATE_LIMIT"),
            (vec![("TERRA_CONNECT_RATE_LIMIT", "ten")], "TERRA_CONNECT_RATE_LIMIT"),
            (vec![("TERRA_CONNECT_WIDGET_API", "v3")], "TERRA_CONNECT_WIDGET_API"),
            (vec![("TERRA_WIDGET_URL", "widget")], "TERRA_WIDGET_URL"),
            (vec![("TERRA_SANDBOX_WIDGET_TTL_SECS", "0")], "TERRA_SANDBOX_WIDGET_TTL_SECS"),
            (vec![("TERRA_CONNECT_WWW_COOP", "true")], "TERRA_CONNECT_WWW_COOP"),
        ];
        for (pairs, variable) in cases {
            assert_eq!(config(&pairs).unwrap_err().variable, variable);
        }
    }
}
