//! The binary's command line: `--help` and README's configuration table are one source (every
//! flag, variable, default and meaning match), `--version`, and no colour codes in logs that
//! are not a terminal.

mod common;

use std::process::Command;

use common::ProxyProcess;

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_terra-connect-proxy"));
    command.env_clear();
    command
}

/// (flag, variable, default, meaning) of each option line of `--help`.
fn help_options() -> Vec<(String, String, Option<String>, String)> {
    let output = binary().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let mut options = Vec::new();
    for line in help.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("--") else { continue };
        let Some((flag, rest)) = rest.split_once(' ') else { continue };
        let Some(rest) = rest.trim_start().strip_prefix('<').and_then(|r| r.split_once('>')).map(|(_, r)| r.trim())
        else {
            continue;
        };
        let (meaning, tail) = rest.split_once(" [env: ").expect("every option has a variable");
        let (variable, tail) = tail.split_once(']').unwrap();
        let default = tail.trim().strip_prefix("[default: ").map(|d| d.trim_end_matches(']').to_owned());
        options.push((format!("--{flag}"), variable.trim_end_matches('=').to_owned(), default, meaning.to_owned()));
    }
    options
}

/// The same four columns from README's table.
fn readme_rows() -> Vec<(String, String, Option<String>, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme.split("### Configuration of the binary").nth(1).unwrap().split("\n### ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `--"))
        .map(|l| {
            let cells: Vec<String> = l.trim_matches('|').split(" | ").map(|c| c.trim().replace("\\|", "|")).collect();
            assert_eq!(cells.len(), 4, "{l}");
            let unquote = |c: &str| c.trim_matches('`').to_owned();
            let default = (cells[2] != "unset").then(|| unquote(&cells[2]));
            (unquote(&cells[0]), unquote(&cells[1]), default, cells[3].clone())
        })
        .collect()
}

#[test]
fn help_and_the_readme_table_cannot_drift() {
    let help = help_options();
    assert!(help.len() >= 20, "{help:?}");
    assert_eq!(readme_rows(), help, "README's table must be --help's options, in order (regenerate it from --help)");
}

#[test]
fn version_and_errors() {
    let output = binary().arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("terra-connect-proxy {}", env!("CARGO_PKG_VERSION"))
    );
    let output = binary().arg("--no-such-flag").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = binary().args(["--rate-limit", "ten"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("TERRA_CONNECT_RATE_LIMIT"));
}

#[test]
fn a_flag_wins_over_its_variable() {
    let output =
        binary().env("TERRA_CONNECT_RATE_LIMIT", "0").args(["--rate-limit", "5", "--addr", "nope"]).output().unwrap();
    // The variable's bad value is not used: the error is about the flag given for --addr.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TERRA_CONNECT_ADDR") && !stderr.contains("TERRA_CONNECT_RATE_LIMIT"), "{stderr}");
}

#[tokio::test]
async fn logs_to_a_file_have_no_colour_codes() {
    let proxy = ProxyProcess::start(&[]);
    common::client().get(format!("{}/healthz", proxy.url)).send().await.unwrap();
    assert!(proxy.wait_for_log("request").await);
    assert!(!proxy.logs().contains('\u{1b}'), "ANSI escape in a non-terminal log");
}
