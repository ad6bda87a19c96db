//! Headless Chromium (Debian's `chromium`, installed by tests/install-lab-packages.sh) for
//! checking pages as a browser sees them: the DOM after scripts ran, a screenshot, and the
//! console. It is required: a missing browser fails the test, it never skips it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::cli::wait_bounded;

/// The browser, or a loud failure saying how to install it.
pub fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.exists(),
        "chromium is required for the HTML report tests: run `bash tests/install-lab-packages.sh`"
    );
    path
}

/// What the browser showed and said.
pub struct Loaded {
    /// The DOM after the page's scripts ran.
    pub dom: String,
    /// Console messages (errors included) the browser logged.
    pub console: Vec<String>,
}

fn browser(profile: &Path, extra: &[String], url: &str) -> std::process::Output {
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    wait_bounded(
        command.spawn().expect("chromium starts"),
        Duration::from_secs(90),
    )
}

/// Loads `url` with a fresh profile and dumps its DOM.
pub fn load(url: &str) -> Loaded {
    load_with(url, &[])
}

/// [`load`] in a window of `size` (width, height): a laptop's, a phone's.
pub fn load_at(url: &str, size: (u32, u32)) -> Loaded {
    load_with(url, &[format!("--window-size={},{}", size.0, size.1)])
}

fn load_with(url: &str, extra: &[String]) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let mut args = vec!["--dump-dom".to_string()];
    args.extend_from_slice(extra);
    let output = browser(profile.path(), &args, url);
    assert!(
        output.status.success(),
        "chromium failed on {url}: {output:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    Loaded {
        dom: String::from_utf8_lossy(&output.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|line| line.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}

/// Takes a screenshot of `url` into `png` (a tall window: the whole chart).
pub fn screenshot(url: &str, png: &Path, size: (u32, u32)) {
    let profile = tempfile::tempdir().unwrap();
    let output = browser(
        profile.path(),
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={},{}", size.0, size.1),
            "--hide-scrollbars".to_string(),
        ],
        url,
    );
    assert!(
        output.status.success(),
        "chromium screenshot failed: {output:?}"
    );
    let bytes = std::fs::read(png).expect("screenshot written");
    assert!(
        bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG"),
        "a real PNG of the page: {} bytes",
        bytes.len()
    );
}

/// The value of `name="..."` on the first element that has it.
pub fn attribute(dom: &str, element_marker: &str, name: &str) -> Option<String> {
    let at = dom.find(element_marker)?;
    let tag_end = dom[at..].find('>')? + at;
    let tag_start = dom[..=at].rfind('<')?;
    let tag = &dom[tag_start..tag_end];
    let key = format!("{name}=\"");
    let from = tag.find(&key)? + key.len();
    let to = tag[from..].find('"')? + from;
    Some(tag[from..to].to_string())
}

/// The report's script finished, reported no error, and the console stayed silent.
pub fn assert_rendered_cleanly(page: &Loaded) {
    assert_eq!(
        attribute(&page.dom, "<body", "data-rendered").as_deref(),
        Some("ok"),
        "the report's script ran to its end"
    );
    assert_eq!(
        attribute(&page.dom, "<body", "data-js-error"),
        None,
        "no script error on the page"
    );
    assert!(
        page.dom
            .contains("id=\"js-errors\" class=\"js-errors\" hidden=\"\"></div>"),
        "the error box is empty and hidden"
    );
    assert!(
        page.console.is_empty(),
        "no console messages (errors, CSP refusals): {:?}",
        page.console
    );
}

/// Every step row of the report: (step id, subsystem, has a bar, marked critical).
pub fn rows(dom: &str) -> Vec<(String, String, bool, bool)> {
    let mut rows = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find("<details class=\"row step") {
        rest = &rest[at..];
        let end = rest.find("</details>").unwrap_or(rest.len());
        let row = &rest[..end];
        let value = |name: &str| attribute(row, "<details", name).unwrap_or_default();
        rows.push((
            value("data-step"),
            value("data-subsystem"),
            row.contains("class=\"seg seg-"),
            value("data-critical") == "true" && value("class").contains("critical"),
        ));
        rest = &rest[end..];
    }
    rows
}
