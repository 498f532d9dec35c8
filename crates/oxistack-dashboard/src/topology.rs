//! The network topology picture, as Horizon's Network Topology panel draws it,
//! laid out here on the server as one inline SVG (no script, no I/O).
//!
//! Why this layout: Horizon's picture is the one operators already read, and it
//! needs no graph layout at all. Every network is a vertical bar, the external
//! network leftmost in its own colour, tenant networks after it by name; names
//! and CIDRs are written along the bars, so long names make bars taller, never
//! the picture wider. Every device is a row of its own (routers, then load
//! balancers, then instances, each by name), its box standing just right of the
//! leftmost bar it reaches, with a horizontal connector to every bar it is on.
//! Because a row holds exactly one device, nothing in different rows can
//! collide; the only widths to compute are the gaps between bars, from the
//! boxes standing in each gap and the address labels written next to each bar.
//! Connectors are drawn first so bars they pass on the way cover them, as in
//! Horizon. Sizes use a monospace estimate (0.6 em a character); colours are
//! classes over the page's CSS variables, so light and dark both work.

use std::collections::{BTreeMap, HashMap};

use maud::{Markup, PreEscaped, html};

/// Everything the picture shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub networks: Vec<Net>,
    pub devices: Vec<Device>,
}

/// A network: one vertical bar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Net {
    pub id: String,
    pub name: String,
    pub cidrs: Vec<String>,
    pub external: bool,
    pub href: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    Router,
    Instance,
    LoadBalancer,
}

/// A router, instance or load balancer: one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub kind: DeviceKind,
    pub status: String,
    pub href: String,
    pub links: Vec<Link>,
}

/// A device's port(s) on one network. A router's gateway is a link to the
/// external network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub network_id: String,
    /// Fixed IPs on that network.
    pub addresses: Vec<String>,
    /// Floating IPs reached through this port.
    pub floating: Vec<String>,
}

const MARGIN: i32 = 16;
const BAR_W: i32 = 34;
const TOP_PAD: i32 = 16;
const ROW_H: i32 = 64;
const BOX_H: i32 = 44;
const ICON_W: i32 = 34;
const PAD: i32 = 6;
/// The least visible connector beside an address label.
const STUB: i32 = 24;
const MIN_BOX_W: i32 = 120;
const NET_NAME_MAX: usize = 32;
const DEV_NAME_MAX: usize = 24;
const LABEL_MAX: usize = 40;

const CSS: &str = "\
.topo-svg{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}\
.topo-svg text{fill:var(--fg,#1f2328)}.topo-svg .topo-bar{fill:var(--accent,#0969da)}\
.topo-svg .topo-external .topo-bar{fill:var(--fg,#1f2328)}\
.topo-svg .topo-net text{fill:var(--bg,#fff)}.topo-svg .topo-net-cidr{font-size:10px}\
.topo-svg .topo-line{stroke:var(--muted,#6e7781);stroke-width:2}\
.topo-svg .topo-addr{font-size:11px}\
.topo-svg .topo-fip{font-size:11px;fill:var(--accent,#0969da)}\
.topo-svg .topo-box{fill:var(--bg,#fff);stroke:var(--muted,#6e7781);stroke-width:1.5}\
.topo-svg .topo-icon{fill:var(--accent,#0969da)}\
.topo-svg .topo-lb .topo-icon{fill:var(--warn,#9a6700)}\
.topo-svg .topo-instance .topo-icon{fill:var(--muted,#6e7781)}\
.topo-svg .topo-icon-text{fill:var(--bg,#fff);font-size:9px;font-weight:bold}\
.topo-svg .topo-name{font-weight:bold}\
.topo-svg .topo-status{font-size:10px;fill:var(--muted,#6e7781)}\
.topo-svg .topo-status-ok{fill:var(--ok,#1a7f37)}\
.topo-svg .topo-status-warn{fill:var(--warn,#9a6700)}\
.topo-svg .topo-status-err{fill:var(--err,#cf222e)}\
.topo-svg a:hover .topo-box,.topo-svg a:focus .topo-box{stroke:var(--accent,#0969da);stroke-width:2.5}\
.topo-svg a:hover .topo-bar,.topo-svg a:focus .topo-bar{opacity:.85}\
.topo-svg .topo-empty-sub{fill:var(--muted,#6e7781)}";

/// The picture for `topology`: an inline `<svg>` as wide as its container.
pub fn render(topology: &Topology) -> Markup {
    if topology.networks.is_empty() {
        return render_empty(topology.devices.len());
    }
    let l = layout(topology);
    let label = format!(
        "Network topology: {} network{}, {} device{}",
        l.nets.len(),
        plural(l.nets.len()),
        l.devices.len(),
        plural(l.devices.len())
    );
    html! {
        svg.topo-svg xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (l.width) " " (l.height)}
            width="100%" style={"max-width:" (l.width) "px"} role="img" aria-label=(label) {
            title { (label) }
            style { (PreEscaped(CSS)) }
            g.topo-links {
                @for d in &l.devices {
                    @for c in &d.conns {
                        @let net = l.nets[c.net];
                        g.topo-link data-device=(d.dev.id) data-network=(net.id) {
                            title { (d.dev.name) " → " (net.name) (c.title) }
                            line.topo-line x1=(c.x1) y1=(d.cy) x2=(c.x2) y2=(d.cy) {}
                            @let anchor = if c.x2 > c.x1 { "end" } else { "start" };
                            @if !c.addr.is_empty() {
                                text.topo-addr x=(c.label_x) y=(d.cy - 5) text-anchor=(anchor) { (c.addr) }
                            }
                            @if !c.fip.is_empty() {
                                text.topo-fip x=(c.label_x) y=(d.cy + 15) text-anchor=(anchor) { (c.fip) }
                            }
                        }
                    }
                }
            }
            g.topo-nets {
                @for (i, n) in l.nets.iter().enumerate() {
                    @let x = l.bar_x[i];
                    @let cidrs = n.cidrs.join(", ");
                    a.topo-net.topo-external[n.external] href=(safe_href(&n.href)) data-id=(n.id)
                        aria-label={ @if n.external { "External network " } @else { "Network " } (n.name) @if !cidrs.is_empty() { ", " (cidrs) } } {
                        title { (n.name) @if !cidrs.is_empty() { " (" (cidrs) ")" } }
                        rect.topo-bar x=(x) y=(MARGIN) width=(BAR_W) height=(l.bar_h) rx="4" {}
                        // Read top to bottom (glyph tops face right): the name first, CIDRs under it.
                        @let (tx, ty) = (x + 19, MARGIN + PAD);
                        text.topo-net-name x=(tx) y=(ty) transform={"rotate(90 " (tx) " " (ty) ")"} { (ellipsize(&n.name, NET_NAME_MAX)) }
                        @if !cidrs.is_empty() {
                            @let tx = x + 6;
                            text.topo-net-cidr x=(tx) y=(ty) transform={"rotate(90 " (tx) " " (ty) ")"} { (ellipsize(&cidrs, LABEL_MAX)) }
                        }
                    }
                }
            }
            g.topo-devices {
                @for d in &l.devices { (device(d)) }
            }
        }
    }
}

fn device(d: &Placed) -> Markup {
    let (kind, class, letters) = match d.dev.kind {
        DeviceKind::Router => ("Router", "topo-router", "R"),
        DeviceKind::LoadBalancer => ("Load balancer", "topo-lb", "LB"),
        DeviceKind::Instance => ("Instance", "topo-instance", "VM"),
    };
    let (ix, iy) = (d.x + ICON_W / 2 + 2, d.cy);
    let icon = match d.dev.kind {
        DeviceKind::Router => html! { circle.topo-icon cx=(ix) cy=(iy) r="13" {} },
        DeviceKind::LoadBalancer => html! {
            polygon.topo-icon points={(ix) "," (iy - 14) " " (ix + 14) "," (iy) " " (ix) "," (iy + 14) " " (ix - 14) "," (iy)} {}
        },
        DeviceKind::Instance => {
            html! { rect.topo-icon x=(ix - 13) y=(iy - 11) width="26" height="22" rx="3" {} }
        }
    };
    let tx = d.x + ICON_W + PAD;
    html! {
        a class={"topo-device " (class)} href=(safe_href(&d.dev.href)) data-id=(d.dev.id)
            aria-label={(kind) " " (d.dev.name) ", status " (d.dev.status)} {
            title { (kind) " " (d.dev.name) " (" (d.dev.status) ")" }
            rect.topo-box x=(d.x) y=(d.cy - BOX_H / 2) width=(d.w) height=(BOX_H) rx="6" {}
            (icon)
            text.topo-icon-text x=(ix) y=(iy + 3) text-anchor="middle" { (letters) }
            text.topo-name x=(tx) y=(d.cy - 4) { (ellipsize(&d.dev.name, DEV_NAME_MAX)) }
            text class={"topo-status " (status_class(&d.dev.status))} x=(tx) y=(d.cy + 12) {
                (ellipsize(&d.dev.status, DEV_NAME_MAX))
            }
        }
    }
}

fn render_empty(devices: usize) -> Markup {
    let sub = if devices == 0 {
        "Create a network, then routers and instances appear here.".to_string()
    } else {
        format!(
            "{devices} device{} but nothing to connect them to yet.",
            plural(devices)
        )
    };
    html! {
        svg.topo-svg.topo-empty xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 96" width="100%"
            style="max-width:480px" role="img" aria-label="Network topology: no networks yet" {
            title { "Network topology: no networks yet" }
            style { (PreEscaped(CSS)) }
            text x="240" y="42" text-anchor="middle" font-size="16" { "No networks yet" }
            text.topo-empty-sub x="240" y="66" text-anchor="middle" { (sub) }
        }
    }
}

/// One connector: from the device box to the bar of network `net`.
#[derive(Debug, Default)]
struct Conn {
    net: usize,
    x1: i32,
    x2: i32,
    label_x: i32,
    /// The wider of the two labels.
    label_w: i32,
    addr: String,
    fip: String,
    title: String,
}

/// A device's row: its box stands in gap `gap` (left of bar `gap`).
#[derive(Debug)]
struct Placed<'a> {
    dev: &'a Device,
    gap: usize,
    x: i32,
    cy: i32,
    w: i32,
    /// By bar, left to right.
    conns: Vec<Conn>,
}

#[derive(Debug)]
struct Layout<'a> {
    nets: Vec<&'a Net>,
    bar_x: Vec<i32>,
    bar_h: i32,
    width: i32,
    height: i32,
    devices: Vec<Placed<'a>>,
}

fn layout(t: &Topology) -> Layout<'_> {
    let mut nets: Vec<&Net> = t.networks.iter().collect();
    nets.sort_by(|a, b| (!a.external, &a.name, &a.id).cmp(&(!b.external, &b.name, &b.id)));
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(nets.len());
    for (i, n) in nets.iter().enumerate() {
        index.entry(n.id.as_str()).or_insert(i);
    }
    let mut devs: Vec<&Device> = t.devices.iter().collect();
    devs.sort_by(|a, b| (rank(a.kind), &a.name, &a.id).cmp(&(rank(b.kind), &b.name, &b.id)));
    let n = nets.len();
    let mut devices: Vec<Placed> = devs.iter().map(|&dev| row(dev, &index)).collect();

    // Gap g lies left of bar g (gap n is right of the last bar). A device
    // stands in the gap right of its leftmost bar, or in gap 0 if it has none;
    // its box sits after the label by the bar on its left (kept in `x` for now).
    let mut gap_w = vec![0i32; n + 1];
    for d in &mut devices {
        let side = |bar: Option<usize>| match d.conns.iter().find(|c| Some(c.net) == bar) {
            Some(c) => c.label_w + STUB,
            None => PAD,
        };
        let (left, right) = (side(d.gap.checked_sub(1)), side(Some(d.gap)));
        gap_w[d.gap] = gap_w[d.gap].max(left + d.w + right);
        d.x = left;
        // Labels next to farther bars sit in the gap just left of that bar.
        for c in d.conns.iter().filter(|c| c.net > d.gap) {
            gap_w[c.net] = gap_w[c.net].max(c.label_w + STUB);
        }
    }
    for w in gap_w.iter_mut().take(n).skip(1) {
        *w = (*w).max(STUB * 2);
    }

    let (mut gap_x, mut bar_x, mut x) = (Vec::with_capacity(n + 1), Vec::with_capacity(n), MARGIN);
    for (g, w) in gap_w.iter().enumerate() {
        gap_x.push(x);
        x += w;
        if g < n {
            bar_x.push(x);
            x += BAR_W;
        }
    }
    for (i, d) in devices.iter_mut().enumerate() {
        d.x += gap_x[d.gap];
        d.cy = MARGIN + TOP_PAD + i as i32 * ROW_H + BOX_H / 2;
        for c in &mut d.conns {
            let edge = bar_x[c.net] + BAR_W;
            (c.x1, c.x2, c.label_x) = if c.net < d.gap {
                (d.x, edge, edge + PAD)
            } else {
                (d.x + d.w, bar_x[c.net], bar_x[c.net] - PAD)
            };
        }
    }

    let label_len = nets.iter().map(|n| {
        let cidrs = ellipsize(&n.cidrs.join(", "), LABEL_MAX);
        text_w(&ellipsize(&n.name, NET_NAME_MAX), 12).max(text_w(&cidrs, 10))
    });
    let rows_h = TOP_PAD * 2 + devices.len() as i32 * ROW_H;
    let bar_h = rows_h.max(label_len.max().unwrap_or(0) + PAD * 2).max(120);
    let (width, height) = (x + MARGIN, bar_h + MARGIN * 2);
    Layout {
        nets,
        bar_x,
        bar_h,
        width,
        height,
        devices,
    }
}

/// A device's links merged per bar, with their labels; positions come later.
fn row<'a>(dev: &'a Device, index: &HashMap<&str, usize>) -> Placed<'a> {
    let mut merged: BTreeMap<usize, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for l in &dev.links {
        // A link to a network not in the picture has nowhere to go.
        if let Some(&b) = index.get(l.network_id.as_str()) {
            let e = merged.entry(b).or_default();
            e.0.extend(l.addresses.iter().map(String::as_str));
            e.1.extend(l.floating.iter().map(String::as_str));
        }
    }
    let conns: Vec<Conn> = merged
        .into_iter()
        .map(|(net, (addrs, fips))| {
            let (addrs, fips) = (addrs.join(", "), fips.join(", "));
            let addr = ellipsize(&addrs, LABEL_MAX);
            let fip = match fips.is_empty() {
                true => String::new(),
                false => ellipsize(&format!("fip ⇄ {fips}"), LABEL_MAX),
            };
            let label_w = text_w(&addr, 11).max(text_w(&fip, 11));
            let mut title = if addrs.is_empty() {
                String::new()
            } else {
                format!(": {addrs}")
            };
            if !fips.is_empty() {
                title.push_str(&format!("; floating {fips}"));
            }
            Conn {
                net,
                label_w,
                addr,
                fip,
                title,
                ..Conn::default()
            }
        })
        .collect();
    let gap = conns.first().map_or(0, |c| c.net + 1);
    let text = text_w(&ellipsize(&dev.name, DEV_NAME_MAX), 12)
        .max(text_w(&ellipsize(&dev.status, DEV_NAME_MAX), 10));
    let w = (ICON_W + PAD * 2 + text).max(MIN_BOX_W);
    Placed {
        dev,
        gap,
        x: 0,
        cy: 0,
        w,
        conns,
    }
}

fn rank(k: DeviceKind) -> u8 {
    match k {
        DeviceKind::Router => 0,
        DeviceKind::LoadBalancer => 1,
        DeviceKind::Instance => 2,
    }
}

fn status_class(status: &str) -> &'static str {
    match status.to_ascii_uppercase().as_str() {
        "ACTIVE" | "UP" | "ONLINE" | "RUNNING" => "topo-status-ok",
        "ERROR" | "DOWN" | "OFFLINE" | "DEGRADED" => "topo-status-err",
        _ => "topo-status-warn",
    }
}

/// Monospace estimate: 0.6 em a character, rounded up.
fn text_w(s: &str, font_px: i32) -> i32 {
    (s.chars().count() as i32 * font_px * 6 + 9) / 10
}

fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// Escaping is maud's; this refuses schemes other than http(s), so a stored
/// `javascript:` link cannot run when clicked.
fn safe_href(h: &str) -> &str {
    match h.find([':', '/', '?', '#']) {
        Some(i) if h.as_bytes()[i] == b':' => {
            let scheme = h[..i].trim().to_ascii_lowercase();
            if scheme == "http" || scheme == "https" {
                h
            } else {
                "#"
            }
        }
        _ => h,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(id: &str, external: bool) -> Net {
        let cidrs = vec![format!("10.{}.0.0/24", id.len())];
        let href = format!("/dashboard/networks/{id}");
        Net {
            id: id.into(),
            name: id.into(),
            cidrs,
            external,
            href,
        }
    }

    /// `links` is "network=address …".
    fn dev(id: &str, kind: DeviceKind, links: &str) -> Device {
        let links = links.split_whitespace().map(|l| l.split_once('=').unwrap());
        let links = links.map(|(n, a)| Link {
            network_id: n.into(),
            addresses: vec![a.into()],
            floating: vec![],
        });
        let (status, href) = ("ACTIVE".into(), format!("/dashboard/things/{id}"));
        Device {
            id: id.into(),
            name: id.into(),
            kind,
            status,
            href,
            links: links.collect(),
        }
    }

    fn sample() -> Topology {
        let mut vm = dev("vm1", DeviceKind::Instance, "priv=10.0.0.5");
        vm.links[0].floating.push("172.24.4.9".into());
        let r1 = dev(
            "r1",
            DeviceKind::Router,
            "ext=172.24.4.2 priv=10.0.0.1 db=10.1.0.1",
        );
        let lb = dev("lb1", DeviceKind::LoadBalancer, "priv=10.0.0.7");
        let networks = vec![net("priv", false), net("db", false), net("ext", true)];
        Topology {
            networks,
            devices: vec![vm, r1, lb, dev("lonely", DeviceKind::Instance, "")],
        }
    }

    fn count(s: &str, needle: &str) -> usize {
        s.matches(needle).count()
    }

    #[test]
    fn topology_counts_elements() {
        let s = render(&sample()).into_string();
        assert!(s.starts_with("<svg class=\"topo-svg\""));
        for part in [
            "viewBox=\"0 0 ",
            "width=\"100%\"",
            "role=\"img\"",
            "aria-label=",
        ] {
            assert!(s.contains(part), "{part}");
        }
        assert!(s.contains("<title>Network topology: 3 networks, 4 devices</title>"));
        assert_eq!(count(&s, "<a class=\"topo-net"), 3);
        assert_eq!(count(&s, "class=\"topo-device "), 4);
        assert_eq!(count(&s, "class=\"topo-device topo-router\""), 1);
        assert_eq!(count(&s, "class=\"topo-device topo-lb\""), 1);
        assert_eq!(count(&s, "class=\"topo-device topo-instance\""), 2);
        assert_eq!(count(&s, "class=\"topo-link\""), 5);
        assert_eq!(count(&s, "class=\"topo-fip\""), 1);
        assert!(s.contains("fip ⇄ 172.24.4.9"));
        assert!(s.contains("data-device=\"r1\" data-network=\"db\""));
    }

    #[test]
    fn topology_orders_external_first_and_devices_by_kind() {
        let t = sample();
        let l = layout(&t);
        let ids: Vec<&str> = l.nets.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["ext", "db", "priv"]);
        assert!(l.bar_x.windows(2).all(|w| w[0] < w[1]));
        let devs: Vec<&str> = l.devices.iter().map(|d| d.dev.id.as_str()).collect();
        assert_eq!(devs, ["r1", "lb1", "lonely", "vm1"]);
        let s = render(&t).into_string();
        assert!(s.find("data-id=\"ext\"").unwrap() < s.find("data-id=\"db\"").unwrap());
        assert!(s.contains("class=\"topo-net topo-external\""));
        assert_eq!(count(&s, "topo-external\""), 1);
    }

    #[test]
    fn topology_links_end_at_their_bars() {
        let t = sample();
        let l = layout(&t);
        for d in &l.devices {
            for c in &d.conns {
                let (left, right) = (l.bar_x[c.net], l.bar_x[c.net] + BAR_W);
                assert!(c.x2 == left || c.x2 == right, "{} -> {}", d.dev.id, c.net);
                // The connector starts at the box's edge and the box sits
                // clear of every address label.
                assert!(c.x1 == d.x || c.x1 == d.x + d.w);
                if c.x2 == right {
                    assert!(c.x2 + PAD + text_w(&c.addr, 11) < d.x);
                } else {
                    assert!(c.x2 - PAD - text_w(&c.addr, 11) > d.x + d.w);
                }
            }
        }
        // The router stands between the external bar and the next one.
        let r = &l.devices[0];
        assert!(r.x > l.bar_x[0] + BAR_W && r.x + r.w < l.bar_x[1]);
        assert_eq!(r.conns.iter().map(|c| c.net).collect::<Vec<_>>(), [0, 1, 2]);
        // The unlinked device stands left of every bar.
        let lonely = &l.devices[2];
        assert!(lonely.conns.is_empty() && lonely.x + lonely.w < l.bar_x[0]);
        // And in the markup, the router's line to "db" ends at db's bar.
        let s = render(&t).into_string();
        let at = s.find("data-device=\"r1\" data-network=\"db\"").unwrap();
        let line = &s[at..];
        let x2 = attr(&line[line.find("<line").unwrap()..], "x2");
        let bar = &s[s.find("data-id=\"db\"").unwrap()..];
        assert_eq!(x2, attr(&bar[bar.find("<rect").unwrap()..], "x"));
    }

    fn attr<'a>(s: &'a str, name: &str) -> &'a str {
        let from = s.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        &s[from..from + s[from..].find('"').unwrap()]
    }

    #[test]
    fn topology_escapes_text_and_hrefs_and_truncates() {
        let mut t = sample();
        t.networks[0].href = "/n?a=1&b=\"<x>".into();
        t.networks[0].name = "<script>alert(1)</script>".into();
        t.devices[0].href = " JavaScript:alert(1)".into();
        t.devices[1].href = "https://example.com/x".into();
        let s = render(&t).into_string();
        assert!(s.contains("href=\"/n?a=1&amp;b=&quot;&lt;x&gt;\""));
        assert!(!s.contains("<script>") && s.contains("&lt;script&gt;"));
        assert!(!s.to_lowercase().contains("javascript:") && s.contains("href=\"#\""));
        assert!(s.contains("href=\"https://example.com/x\""));
        // Long names are cut short, whole in the title.
        let long = "a-very-long-instance-name-that-goes-on-and-on";
        t.devices[0].name = long.into();
        let s = render(&t).into_string();
        assert!(s.contains(&format!("<title>Instance {long} (ACTIVE)</title>")));
        assert!(s.contains(&format!(">{}…</text>", &long[..DEV_NAME_MAX - 1])));
    }

    #[test]
    fn topology_empty_state() {
        let s = render(&Topology::default()).into_string();
        assert!(
            s.contains("topo-empty") && s.contains("No networks yet") && s.contains("role=\"img\"")
        );
        assert_eq!(count(&s, "<a class=\"topo-net"), 0);
        let t = Topology {
            networks: vec![],
            ..sample()
        };
        assert!(render(&t).into_string().contains("4 devices but nothing"));
    }

    #[test]
    fn topology_many_networks_and_devices() {
        let networks: Vec<Net> = (0..20).map(|i| net(&format!("n{i:02}"), i == 7)).collect();
        let kinds = [
            DeviceKind::Instance,
            DeviceKind::Router,
            DeviceKind::LoadBalancer,
        ];
        let devices: Vec<Device> = (0..100)
            .map(|i| {
                let links =
                    (0..1 + i % 5).map(|k| format!("n{:02}=10.{k}.0.{i}", (i + k * 3) % 20));
                dev(
                    &format!("d{i:03}"),
                    kinds[i % 3],
                    &links.collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
        let links: usize = devices.iter().map(|d| d.links.len()).sum();
        let t = Topology { networks, devices };
        let s = render(&t).into_string();
        assert_eq!(count(&s, "<a class=\"topo-net"), 20);
        assert_eq!(count(&s, "class=\"topo-device "), 100);
        assert_eq!(count(&s, "class=\"topo-link\""), links);
        assert_eq!(count(&s, "<line "), links);
        let l = layout(&t);
        assert_eq!(l.nets[0].id, "n07");
        assert!(
            l.devices
                .iter()
                .all(|d| d.cy + BOX_H / 2 <= MARGIN + l.bar_h)
        );
    }
}
