//! A real SMTP server for tests: Debian's `aiosmtpd` (run by `/usr/bin/python3`, which has it;
//! the pyenv `python3` on PATH may not) listening on loopback and delivering into a Maildir,
//! which the test reads back and parses as the recipient's mail program would.
//!
//! The server runs as a child in its own process group and dies with the test (Drop kills the
//! group; a parent-death signal covers a test that is itself killed). `stop` and `restart` let
//! a test take it away and bring it back on the same port, as a real outage would.

use mailparse::{MailHeaderMap, ParsedMail as MimePart};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The Python that has aiosmtpd (Debian's `python3-aiosmtpd`).
pub const PYTHON: &str = "/usr/bin/python3";

/// What CI installs for the mail, browser and LDAP tests.
pub const INSTALL: &str =
    "apt-get install -y chromium chromium-driver fonts-liberation python3-aiosmtpd slapd ldap-utils nginx";

/// Whether this run is CI's, where a missing tool is a failure and never a skip.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Decides what a test does when a tool it needs (`what`) is missing: under CI it fails with
/// the install command; locally it prints `SKIPPED <test>: …` and the caller returns.
pub fn require(test: &str, what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    if ci() {
        panic!("{test} needs {what}, which is not installed; install it with: {INSTALL}");
    }
    super::skipped(test, &format!("needs {what} (install it with: {INSTALL})"));
    false
}

/// Whether `/usr/bin/python3 -m aiosmtpd` can run here.
pub fn aiosmtpd_available() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `program` with a parent-death signal when `setpriv` is there (util-linux), so the
/// child goes when the test process goes, even killed.
pub fn dying_with_parent(program: &str) -> Command {
    if Path::new("/usr/bin/setpriv").exists() {
        let mut command = Command::new("/usr/bin/setpriv");
        command.args(["--pdeathsig", "KILL", program]);
        command
    } else {
        Command::new(program)
    }
}

/// Kills every process of the group led by `child` (started with `process_group(0)`), then
/// reaps the child.
pub fn kill_group(child: &mut Child) {
    let pgid = child.id();
    let _ = Command::new("/bin/sh")
        .args(["-c", &format!("kill -KILL -- -{pgid} 2>/dev/null")])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// A port on loopback that nothing listened on a moment ago, and that this process has not
/// handed out before (so two servers of parallel tests never race for one port).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1");
        if given.insert(port) {
            return port;
        }
    }
}

/// One mail as the server received it.
#[derive(Debug, Clone)]
pub struct ParsedMail {
    /// The address in the `To:` header, lower-cased.
    pub to: String,
    /// The envelope recipients (`RCPT TO`), as the server recorded them.
    pub envelope_to: Vec<String>,
    pub subject: String,
    /// The top-level content type (`multipart/alternative` for attest's mails).
    pub content_type: String,
    /// The content types of the leaf parts, in order.
    pub part_types: Vec<String>,
    /// The decoded `text/plain` part (empty when there is none).
    pub text: String,
    /// The decoded `text/html` part (empty when there is none).
    pub html: String,
    pub message_id: String,
    /// The whole message as received.
    pub raw: String,
}

impl ParsedMail {
    fn parse(raw: &[u8]) -> Result<Self, String> {
        let mail = mailparse::parse_mail(raw).map_err(|e| e.to_string())?;
        let header = |name: &str| mail.headers.get_first_value(name).unwrap_or_default();
        let to = mailparse::addrparse(&header("To"))
            .ok()
            .and_then(|list| list.extract_single_info())
            .map(|info| info.addr.to_lowercase())
            .unwrap_or_default();
        let envelope_to = header("X-RcptTo")
            .split(',')
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty())
            .collect();
        let mut leaves = Vec::new();
        collect_leaves(&mail, &mut leaves);
        let body_of = |mimetype: &str| -> Result<String, String> {
            match leaves.iter().find(|p| p.ctype.mimetype == mimetype) {
                Some(part) => part.get_body().map_err(|e| e.to_string()),
                None => Ok(String::new()),
            }
        };
        Ok(Self {
            to,
            envelope_to,
            subject: header("Subject"),
            content_type: mail.ctype.mimetype.clone(),
            part_types: leaves.iter().map(|p| p.ctype.mimetype.clone()).collect(),
            text: body_of("text/plain")?,
            html: body_of("text/html")?,
            message_id: header("Message-ID").trim().to_string(),
            raw: String::from_utf8_lossy(raw).into_owned(),
        })
    }

    /// Every http(s) link in the mail, text part first, each once, with HTML entities decoded.
    pub fn links(&self) -> Vec<String> {
        let mut links = Vec::new();
        for body in [&self.text, &self.html] {
            for link in links_in(body) {
                if !links.contains(&link) {
                    links.push(link);
                }
            }
        }
        links
    }

    /// The links of the text part and of the HTML part that lead to `<base_url>/r/…`.
    pub fn review_links(&self, base_url: &str) -> (Vec<String>, Vec<String>) {
        let prefix = format!("{base_url}/r/");
        let pick = |body: &str| -> Vec<String> {
            let mut found: Vec<String> = links_in(body)
                .into_iter()
                .filter(|l| l.starts_with(&prefix))
                .collect();
            found.dedup();
            found
        };
        (pick(&self.text), pick(&self.html))
    }

    /// The one review link of the mail (the text and HTML parts must agree on it).
    pub fn review_link(&self, base_url: &str) -> String {
        let (text, html) = self.review_links(base_url);
        assert_eq!(
            text.len(),
            1,
            "the text part of the mail to {} has one review link: {text:?}\n{}",
            self.to,
            self.text
        );
        assert!(
            html.iter().all(|l| *l == text[0]) && !html.is_empty(),
            "the HTML part of the mail to {} links to the same review as the text ({}): {html:?}",
            self.to,
            text[0]
        );
        text[0].clone()
    }
}

fn collect_leaves<'a>(part: &'a MimePart<'a>, out: &mut Vec<&'a MimePart<'a>>) {
    if part.subparts.is_empty() {
        out.push(part);
    } else {
        for sub in &part.subparts {
            collect_leaves(sub, out);
        }
    }
}

/// The http(s) URLs in `body`, in order, HTML entities decoded.
pub fn links_in(body: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = body;
    while let Some(start) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
            .unwrap_or(tail.len());
        let link = unescape_html(tail[..end].trim_end_matches(['.', ',', ';']));
        links.push(link);
        rest = &tail[end..];
    }
    links
}

/// Decodes the few entities an HTML template escaper writes into an attribute or text.
pub fn unescape_html(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&#x3d;", "=")
        .replace("&#61;", "=")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// aiosmtpd on 127.0.0.1, delivering into a Maildir in a temporary folder.
pub struct SmtpServer {
    port: u16,
    maildir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts the server for `test`, or returns `None` after printing why the test is skipped
    /// (locally, when aiosmtpd is missing; under CI that fails instead).
    pub fn start_for(test: &str) -> Option<Self> {
        if !require(
            test,
            &format!("aiosmtpd for {PYTHON}"),
            aiosmtpd_available(),
        ) {
            return None;
        }
        Some(Self::start())
    }

    /// Starts the server on a free port and waits until it greets.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the mailbox");
        let mut server = Self {
            port: free_port(),
            maildir: dir.path().join("Maildir"),
            log: dir.path().join("aiosmtpd.log"),
            child: None,
            _dir: dir,
        };
        // The free port may be taken between our look and aiosmtpd's bind: try another.
        for _ in 0..3 {
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => {
                    eprintln!("{e}; trying another port");
                    server.port = free_port();
                }
            }
        }
        if let Err(e) = server.spawn() {
            panic!("{e}");
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL attest's transport takes (`ATTEST_SMTP_URL`).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn spawn(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the SMTP server is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the aiosmtpd log");
        let mut command = dying_with_parent(PYTHON);
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start aiosmtpd with {PYTHON}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "aiosmtpd on 127.0.0.1:{} exited at start ({status}):\n{}",
                    self.port,
                    self.log_text()
                ));
            }
            if greets(self.port) {
                break;
            }
            if Instant::now() > deadline {
                kill_group(&mut child);
                return Err(format!(
                    "aiosmtpd on 127.0.0.1:{} did not accept connections within 20 s:\n{}",
                    self.port,
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Takes the server away: connections to its port are refused until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "port {} still accepts connections after the SMTP server was stopped",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same port, with the same mailbox.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn() {
            panic!("restart the SMTP server: {e}");
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every mail received so far, in the order of arrival.
    pub fn messages(&self) -> Vec<ParsedMail> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                files.push((modified, entry.path()));
            }
        }
        files.sort();
        files
            .iter()
            .map(|(_, path)| {
                let raw =
                    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                ParsedMail::parse(&raw)
                    .unwrap_or_else(|e| panic!("parse the mail {}: {e}", path.display()))
            })
            .collect()
    }

    /// The mails received for `address`.
    pub fn messages_to(&self, address: &str) -> Vec<ParsedMail> {
        let address = address.to_lowercase();
        self.messages()
            .into_iter()
            .filter(|m| m.to == address)
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }
}

/// Whether an SMTP server answers on `port` with its 220 greeting.
fn greets(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with("220")
}
