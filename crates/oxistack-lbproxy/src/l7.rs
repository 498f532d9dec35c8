//! What an HTTP listener decides from a request's head alone: which L7
//! policy applies (Octavia's rules, compare types and `invert`), the
//! headers it inserts, and the cookies session persistence reads.
//! Regular expressions are compiled once per listener configuration; a
//! rule whose expression does not compile never matches.

use std::net::SocketAddr;

use hyper::header::{COOKIE, HOST, HeaderMap, HeaderName, HeaderValue};
use oxistack_lbplane::{CompareType, InsertHeaders, L7Policy, L7Rule, L7RuleKind};
use regex::Regex;

/// A policy with its rules ready to evaluate.
#[derive(Debug)]
pub struct CompiledPolicy {
    pub policy: L7Policy,
    rules: Vec<CompiledRule>,
}

#[derive(Debug)]
struct CompiledRule {
    rule: L7Rule,
    regex: Option<Regex>,
}

/// The parts of a request rules look at.
pub struct RequestHead<'a> {
    pub path: &'a str,
    pub headers: &'a HeaderMap,
}

pub fn compile(policies: &[L7Policy]) -> Vec<CompiledPolicy> {
    policies
        .iter()
        .map(|policy| CompiledPolicy {
            policy: policy.clone(),
            rules: policy
                .rules
                .iter()
                .map(|rule| CompiledRule {
                    regex: (rule.compare == CompareType::Regex)
                        .then(|| Regex::new(&rule.value).ok())
                        .flatten(),
                    rule: rule.clone(),
                })
                .collect(),
        })
        .collect()
}

/// The first policy whose rules all match; a policy without rules never
/// matches.
pub fn first_match<'a>(
    policies: &'a [CompiledPolicy],
    request: &RequestHead<'_>,
) -> Option<&'a L7Policy> {
    policies
        .iter()
        .find(|p| !p.rules.is_empty() && p.rules.iter().all(|rule| rule.matches(request)))
        .map(|p| &p.policy)
}

impl CompiledRule {
    fn matches(&self, request: &RequestHead<'_>) -> bool {
        let subject = match &self.rule.kind {
            L7RuleKind::Path => Some(request.path.to_owned()),
            L7RuleKind::HostName => {
                header_text(request.headers, HOST.as_str()).map(|host| strip_port(&host).to_owned())
            }
            L7RuleKind::Header { key } => header_text(request.headers, key),
            L7RuleKind::Cookie { key } => cookie(request.headers, key),
            L7RuleKind::FileType => file_type(request.path).map(str::to_owned),
        };
        // A missing header or cookie compares as nothing matching.
        let compared = subject.is_some_and(|subject| self.compare(&subject));
        compared != self.rule.invert
    }

    fn compare(&self, subject: &str) -> bool {
        let value = self.rule.value.as_str();
        match self.rule.compare {
            CompareType::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(subject)),
            CompareType::StartsWith => subject.starts_with(value),
            CompareType::EndsWith => subject.ends_with(value),
            CompareType::Contains => subject.contains(value),
            CompareType::EqualTo => subject == value,
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    }
}

/// The extension of the path's last segment.
fn file_type(path: &str) -> Option<&str> {
    let last = path.rsplit('/').next()?;
    last.rfind('.').map(|dot| &last[dot + 1..])
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// The value a `Set-Cookie` header gives cookie `name`, if it is that
/// cookie.
pub fn set_cookie_value(set_cookie: &str, name: &str) -> Option<String> {
    let first = set_cookie.split(';').next()?;
    let (key, value) = first.trim().split_once('=')?;
    (key == name).then(|| value.trim_matches('"').to_owned())
}

/// Adds the headers the listener inserts: X-Forwarded-For is appended to
/// what an earlier proxy set; the others are replaced.
pub fn insert_forwarded(
    headers: &mut HeaderMap,
    insert: &InsertHeaders,
    client: SocketAddr,
    listener_port: u16,
) {
    if insert.forwarded_for {
        let name = HeaderName::from_static("x-forwarded-for");
        let client = client.ip().to_string();
        let value = match header_text(headers, name.as_str()) {
            Some(earlier) => format!("{earlier}, {client}"),
            None => client,
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if insert.forwarded_port {
        headers.insert(
            HeaderName::from_static("x-forwarded-port"),
            HeaderValue::from(listener_port),
        );
    }
    if insert.forwarded_proto {
        headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxistack_lbplane::L7Action;

    fn rule(kind: L7RuleKind, compare: CompareType, value: &str, invert: bool) -> L7Rule {
        L7Rule {
            kind,
            compare,
            value: value.into(),
            invert,
        }
    }

    fn policy(id: &str, rules: Vec<L7Rule>) -> L7Policy {
        L7Policy {
            id: id.into(),
            action: L7Action::Reject,
            rules,
        }
    }

    fn matching(policies: &[L7Policy], path: &str, headers: &[(&str, &str)]) -> Option<String> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let compiled = compile(policies);
        first_match(
            &compiled,
            &RequestHead {
                path,
                headers: &map,
            },
        )
        .map(|p| p.id.clone())
    }

    #[test]
    fn rules_compare_each_part_of_the_request() {
        let policies = [
            policy(
                "api",
                vec![rule(
                    L7RuleKind::Path,
                    CompareType::StartsWith,
                    "/api",
                    false,
                )],
            ),
            policy(
                "images",
                vec![rule(
                    L7RuleKind::FileType,
                    CompareType::Regex,
                    "^(png|jpg)$",
                    false,
                )],
            ),
            policy(
                "host",
                vec![rule(
                    L7RuleKind::HostName,
                    CompareType::EqualTo,
                    "www.example.com",
                    false,
                )],
            ),
            policy(
                "beta",
                vec![
                    rule(
                        L7RuleKind::Cookie { key: "beta".into() },
                        CompareType::EqualTo,
                        "1",
                        false,
                    ),
                    rule(
                        L7RuleKind::Header {
                            key: "X-Agent".into(),
                        },
                        CompareType::Contains,
                        "bot",
                        true,
                    ),
                ],
            ),
            policy("never", vec![]),
        ];
        assert_eq!(matching(&policies, "/api/v1", &[]).as_deref(), Some("api"));
        assert_eq!(
            matching(&policies, "/a/b.png", &[]).as_deref(),
            Some("images")
        );
        assert_eq!(matching(&policies, "/a/b.pngx", &[]), None);
        assert_eq!(
            matching(&policies, "/", &[("host", "www.example.com:8080")]).as_deref(),
            Some("host")
        );
        let beta = [("cookie", "a=b; beta=1")];
        assert_eq!(matching(&policies, "/", &beta).as_deref(), Some("beta"));
        // The inverted header rule fails for a bot.
        let bot = [("cookie", "beta=1"), ("x-agent", "somebot/1")];
        assert_eq!(matching(&policies, "/", &bot), None);
        assert_eq!(matching(&policies, "/x", &[]), None);
    }

    #[test]
    fn an_inverted_rule_on_a_missing_header_matches() {
        let policies = [policy(
            "no-token",
            vec![rule(
                L7RuleKind::Header {
                    key: "x-token".into(),
                },
                CompareType::EndsWith,
                "",
                true,
            )],
        )];
        assert_eq!(matching(&policies, "/", &[]).as_deref(), Some("no-token"));
        assert_eq!(matching(&policies, "/", &[("x-token", "t")]), None);
    }

    #[test]
    fn forwarded_headers_are_inserted_as_enabled() {
        let client: SocketAddr = "192.0.2.7:5555".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.1.1.1"));
        let all = InsertHeaders {
            forwarded_for: true,
            forwarded_port: true,
            forwarded_proto: true,
        };
        insert_forwarded(&mut headers, &all, client, 8080);
        assert_eq!(headers["x-forwarded-for"], "10.1.1.1, 192.0.2.7");
        assert_eq!(headers["x-forwarded-port"], "8080");
        assert_eq!(headers["x-forwarded-proto"], "http");
        let mut headers = HeaderMap::new();
        insert_forwarded(&mut headers, &InsertHeaders::default(), client, 80);
        assert!(headers.is_empty());
    }

    #[test]
    fn cookies_are_read_from_requests_and_responses() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; SRV=m2"));
        headers.append(COOKIE, HeaderValue::from_static("b=\"2\""));
        assert_eq!(cookie(&headers, "SRV").as_deref(), Some("m2"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
        assert_eq!(
            set_cookie_value("JSESSIONID=abc; Path=/; HttpOnly", "JSESSIONID").as_deref(),
            Some("abc")
        );
        assert_eq!(set_cookie_value("other=abc", "JSESSIONID"), None);
    }
}
