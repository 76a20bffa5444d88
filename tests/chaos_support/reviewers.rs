//! Reviewers deciding under load through the links of their invitation mails, as a browser
//! posts the review page's form, while the chaos kills the server under them.
//!
//! What the test may rely on afterwards is what the server acknowledged: a `303` redirect after
//! the POST. A POST whose connection was refused never reached the server and is sent again;
//! one answered with a server error (a database cut) is sent again, as a reviewer would press
//! the button again; one whose answer was lost (the server killed mid-request) may or may not
//! have been recorded, so it is "uncertain" and never sent again.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The share of a reviewer's items they decide; of those, the share they revoke.
const DECIDE: f64 = 0.45;
const REVOKE: f64 = 0.25;

/// Items per POST: a reviewer saves their page in a few goes.
const CHUNK: usize = 25;

/// Reviewers deciding at once.
const CLIENTS: usize = 4;

/// What the reviewers did, as the server answered it.
#[derive(Debug, Default)]
pub struct Decided {
    /// Item → verdict ("attest" / "revoke"), acknowledged with a 303.
    pub acknowledged: BTreeMap<i64, &'static str>,
    /// Item → verdict of a POST whose answer was lost: recorded at most once, or not at all.
    pub uncertain: BTreeMap<i64, &'static str>,
    /// What went wrong that should not have (an unexpected answer, a page that never opened).
    pub problems: Vec<String>,
    pub posts: usize,
    /// Requests sent again after a refused connection or a server error.
    pub retries: usize,
}

/// One reviewer's work: their link, then the forms to post once the page was read.
struct Job {
    link: String,
    forms: Option<VecDeque<Vec<(i64, &'static str)>>>,
}

/// Decides a share of every reviewer's items from `links`; `recovery` bounds how long one
/// request is retried while the server is down.
pub async fn decide(links: Vec<String>, seed: u64, recovery: Duration) -> Decided {
    let queue: Arc<Mutex<VecDeque<(usize, Job)>>> = Arc::new(Mutex::new(
        links
            .into_iter()
            .map(|link| Job { link, forms: None })
            .enumerate()
            .collect(),
    ));
    let decided = Arc::new(Mutex::new(Decided::default()));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let mut workers = Vec::new();
    for _ in 0..CLIENTS {
        let (queue, decided, http) = (queue.clone(), decided.clone(), http.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some((n, mut job)) = next else {
                    return;
                };
                let mut rng = StdRng::seed_from_u64(seed ^ (n as u64).wrapping_mul(0x9E37_79B9));
                work(&http, &mut job, &mut rng, recovery, &decided).await;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a reviewer task panicked");
    }
    Arc::try_unwrap(decided)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_default()
}

fn with<T>(decided: &Mutex<Decided>, f: impl FnOnce(&mut Decided) -> T) -> T {
    f(&mut decided.lock().unwrap_or_else(|e| e.into_inner()))
}

async fn work(
    http: &reqwest::Client,
    job: &mut Job,
    rng: &mut StdRng,
    recovery: Duration,
    decided: &Mutex<Decided>,
) {
    let Some((csrf, items)) = open_page(http, &job.link, recovery, decided).await else {
        return;
    };
    let forms = job.forms.get_or_insert_with(|| {
        let mut chosen: Vec<(i64, &'static str)> = Vec::new();
        for &id in &items {
            if rng.random_bool(DECIDE) {
                let revoke = rng.random_bool(REVOKE);
                chosen.push((id, if revoke { "revoke" } else { "attest" }));
            }
        }
        chosen.chunks(CHUNK).map(<[_]>::to_vec).collect()
    });
    while let Some(form) = forms.pop_front() {
        let mut body: Vec<(String, String)> = vec![("csrf".into(), csrf.clone())];
        for (id, verdict) in &form {
            body.push((format!("item-{id}"), (*verdict).into()));
            let why = if *verdict == "revoke" {
                "no longer needed (chaos run)"
            } else {
                ""
            };
            body.push((format!("why-{id}"), why.into()));
        }
        body.push(("action".into(), "save".into()));
        let since = Instant::now();
        loop {
            with(decided, |d| d.posts += 1);
            match http.post(&job.link).form(&body).send().await {
                Ok(answer) if answer.status() == reqwest::StatusCode::SEE_OTHER => {
                    with(decided, |d| d.acknowledged.extend(form.iter().copied()));
                    break;
                }
                Ok(answer) if answer.status().is_server_error() => {
                    // Said at once; what the server answered 5xx for must not have been recorded.
                }
                Ok(answer) => {
                    let status = answer.status();
                    let text = answer.text().await.unwrap_or_default();
                    with(decided, |d| {
                        d.problems.push(format!(
                            "POST {} ({} items) answered {status}, not 303: {}",
                            job.link,
                            form.len(),
                            snippet(&text)
                        ))
                    });
                    break;
                }
                Err(e) if e.is_connect() => {}
                Err(_) => {
                    with(decided, |d| d.uncertain.extend(form.iter().copied()));
                    break;
                }
            }
            if since.elapsed() > recovery {
                with(decided, |d| {
                    d.problems.push(format!(
                        "POST {} was not accepted within {recovery:?} of retries (server down or failing)",
                        job.link
                    ))
                });
                break;
            }
            with(decided, |d| d.retries += 1);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// GETs the review page until it opens; its anti-forgery value and the items it offers.
async fn open_page(
    http: &reqwest::Client,
    link: &str,
    recovery: Duration,
    decided: &Mutex<Decided>,
) -> Option<(String, Vec<i64>)> {
    let since = Instant::now();
    loop {
        match http.get(link).send().await {
            Ok(answer) if answer.status() == reqwest::StatusCode::OK => {
                if let Ok(body) = answer.text().await {
                    let Some(csrf) = field_value(&body, "csrf") else {
                        with(decided, |d| {
                            d.problems
                                .push(format!("the review page {link} has no csrf field"))
                        });
                        return None;
                    };
                    return Some((csrf, offered_items(&body)));
                }
            }
            Ok(answer) if answer.status().is_server_error() => {}
            Ok(answer) => {
                let status = answer.status();
                let text = answer.text().await.unwrap_or_default();
                with(decided, |d| {
                    d.problems.push(format!(
                        "the mailed link {link} answered {status}: {}",
                        snippet(&text)
                    ))
                });
                return None;
            }
            Err(_) => {}
        }
        if since.elapsed() > recovery {
            with(decided, |d| {
                d.problems.push(format!(
                    "the review page {link} did not open within {recovery:?}"
                ))
            });
            return None;
        }
        with(decided, |d| d.retries += 1);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `value` of the first input named `name`.
fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].to_string())
}

/// The ids of the items the page offers a decision on (`name="item-ID"`), each once.
fn offered_items(html: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(r#"name="item-"#) {
        rest = &rest[at + r#"name="item-"#.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(id) = digits.parse::<i64>() {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

fn snippet(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(300).collect()
}
