//! Separate hosts on one machine, for the multi-host tests (tests/tests/network_netns.rs) and the
//! WAN benchmark: every host is a Linux network namespace with its own interfaces, addresses,
//! ports and firewall, and runs a real `cosell serve` (`ip netns exec`).
//!
//! Layout of one [`Lab`] (all names carry a prefix unique to the test run, so tests in parallel
//! never meet; nothing is created in the machine's own namespace):
//!
//! ```text
//!            core namespace: bridge br0 = "the Internet", 198.18.0.0/24 (RFC 2544 range)
//!   ┌──────────────┬───────────────────────────┬──────────────────────────────┐
//!  h1 (port)      h2 (port)                   h3 ─[delay line]─ d3 ═ b3 (port)
//!   │              │                           │ (one-way delay, loss, tbf rate)
//!  eth0           wan0 198.18.0.102           wan0 198.18.0.103
//!  public host    router: nft masquerade      router (symmetric NAT: fully-random ports)
//!  198.18.0.11    lan0 10.2.0.1               lan0 10.3.0.1
//!                  │                           │
//!                 eth0 10.2.0.2 (NAT'd host)  eth0 10.3.0.2
//! ```
//!
//! A NAT router lets its LAN out (masquerade) and nothing in: its forward and input chains
//! accept only replies (conntrack established/related) and drop the rest silently, as a home or
//! office router does (an unsolicited packet then leaves no conntrack entry that would take the
//! port a hole punch needs). The cone variant keeps a connection's source port
//! where it can (what Linux masquerade does); the symmetric variant picks a random port per
//! connection (`fully-random`), so no peer can predict it and hole punching fails.
//!
//! Links: a host's uplink can go through a [`delay::DelayLine`] (this crate's own forwarder: two
//! raw packet sockets in the core namespace, frames held for the one-way delay and dropped at
//! the loss rate; the kernel here has no `netem`) and a `tbf` qdisc for the rate. Partitions:
//! [`Lab::pull_cable`] takes a host's link down; [`Lab::drop_from`] silently drops one
//! direction between two hosts (nft on the receiving host); [`Lab::heal`] undoes both.
//!
//! Teardown: dropping the [`Lab`] stops the delay lines and deletes every namespace it made
//! (which deletes their interfaces); a lab left behind by a killed test run is swept by the
//! next one (its namespace names carry the dead run's process id). Where namespaces cannot be
//! made (not root, no `ip`, no `nft`, no `ethtool`), [`Lab::new`] says why and returns `None`:
//! the test skips.

pub mod delay;

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The start of every namespace name a lab makes: `cosell-PID-N-ROLE`.
const NS_PREFIX: &str = "cosell-";

/// Labs made by this process, to tell their names apart.
static LABS: AtomicUsize = AtomicUsize::new(0);

/// How a host reaches the public bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// On the bridge itself, with a public address.
    Public,
    /// Behind a NAT router that keeps source ports where it can (endpoint-independent
    /// mapping): hole punching can work.
    Cone,
    /// Behind a NAT router that maps every connection to a random port: hole punching cannot
    /// work.
    Symmetric,
}

/// The shape of a host's uplink (between it, or its router, and the bridge).
#[derive(Debug, Clone, Copy, Default)]
pub struct Link {
    /// Delay each way (the round trip to a host on a plain link is twice this).
    pub one_way: Duration,
    /// Share of frames dropped each way (0.01 = 1%).
    pub loss: f64,
    /// Rate each way in kbit/s (`tbf`), or none.
    pub rate_kbit: Option<u32>,
}

impl Link {
    /// A WAN link: `rtt_ms` round trip, `loss` each way, `rate_kbit` each way.
    pub fn wan(rtt_ms: u64, loss: f64, rate_kbit: Option<u32>) -> Link {
        Link {
            one_way: Duration::from_millis(rtt_ms / 2),
            loss,
            rate_kbit,
        }
    }

    fn shaped(&self) -> bool {
        !self.one_way.is_zero() || self.loss > 0.0 || self.rate_kbit.is_some()
    }
}

/// One host of a [`Lab`].
#[derive(Debug, Clone)]
pub struct Host {
    /// The name given to [`Lab::host`].
    pub name: String,
    /// Its namespace (for `ip netns exec` and [`in_netns`]).
    pub ns: String,
    /// Its own address (on its LAN when behind NAT).
    pub ip: Ipv4Addr,
    /// The address the others see it at: its own when public, its router's when behind NAT.
    pub public_ip: Ipv4Addr,
    /// How it reaches the bridge.
    pub nat: Nat,
    /// Its router's namespace, when behind NAT.
    pub router: Option<String>,
    /// Its port on the bridge, in the core namespace (`hN`).
    port: String,
}

/// A set of hosts on one public bridge; see the module comment. Dropping it tears it down.
pub struct Lab {
    prefix: String,
    core: String,
    /// Every namespace made, deleted on drop (routers before hosts before the core).
    namespaces: Vec<String>,
    hosts: Vec<Host>,
    delays: Vec<delay::DelayLine>,
}

/// Runs a command, panicking with its output when it fails (a lab that cannot be built is a
/// broken test machine, not a test result).
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command; whether it succeeded.
fn try_run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `ip netns exec NS PROGRAM ARGS`, panicking when it fails.
fn ns_run(ns: &str, program: &str, args: &[&str]) {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all);
}

/// Loads an nft ruleset into a namespace.
fn nft(ns: &str, rules: &str) {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run nft");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(rules.as_bytes())
        .expect("write the nft rules");
    let out = child.wait_with_output().expect("nft");
    assert!(
        out.status.success(),
        "nft in {ns} refused:\n{rules}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Why multi-host tests cannot run here, or `None` when they can.
pub fn unsupported() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("network namespaces need root".into());
    }
    for (tool, package) in [
        ("ip", "iproute2"),
        ("nft", "nftables"),
        ("ethtool", "ethtool"),
        ("tc", "iproute2"),
    ] {
        if !try_run("sh", &["-c", &format!("command -v {tool}")]) {
            return Some(format!(
                "`{tool}` is not installed (apt-get install -y {package})"
            ));
        }
    }
    let probe = format!("{NS_PREFIX}{}-probe", std::process::id());
    if !try_run("ip", &["netns", "add", &probe]) {
        return Some("`ip netns add` is not allowed here (no CAP_SYS_ADMIN?)".into());
    }
    try_run("ip", &["netns", "del", &probe]);
    None
}

/// Deletes namespaces (and their /etc/netns files) left by lab runs whose process is gone.
fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            try_run("ip", &["netns", "del", name]);
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{name}"));
        }
    }
}

impl Lab {
    /// A new lab with only the bridge, or `None` (with the reason printed) where namespaces
    /// cannot be made: the caller's test then passes as skipped.
    pub fn new(test: &str) -> Option<Lab> {
        if let Some(why) = unsupported() {
            eprintln!("SKIPPED {test}: multi-host tests need network namespaces: {why}");
            return None;
        }
        sweep_stale();
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{NS_PREFIX}{}-{n}", std::process::id());
        let core = format!("{prefix}-core");
        let mut lab = Lab {
            prefix,
            core: core.clone(),
            namespaces: Vec::new(),
            hosts: Vec::new(),
            delays: Vec::new(),
        };
        lab.add_ns(&core);
        run("ip", &["-n", &core, "link", "add", "br0", "type", "bridge"]);
        run("ip", &["-n", &core, "link", "set", "br0", "up"]);
        Some(lab)
    }

    /// Makes a namespace with loopback up and IPv6 off (fewer stray frames on the links).
    fn add_ns(&mut self, ns: &str) {
        run("ip", &["netns", "add", ns]);
        self.namespaces.push(ns.to_string());
        run("ip", &["-n", ns, "link", "set", "lo", "up"]);
        for key in ["all", "default"] {
            ns_run(
                ns,
                "sysctl",
                &["-qw", &format!("net.ipv6.conf.{key}.disable_ipv6=1")],
            );
        }
    }

    /// Turns off checksum and segmentation offloads on an interface: frames that cross a delay
    /// line are copied as bytes, so they must be whole, real frames.
    fn no_offloads(ns: &str, dev: &str) {
        // Not every offload can be changed on every kernel; what can be is enough.
        let _ = try_run(
            "ip",
            &[
                "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off",
                "gso", "off", "gro", "off",
            ],
        );
    }

    /// Adds a host named `name` reaching the bridge as `nat` says, over `link`.
    pub fn host(&mut self, name: &str, nat: Nat, link: Link) -> Host {
        let i = self.hosts.len() + 1;
        assert!(i < 90, "a lab holds fewer than 90 hosts");
        let ns = format!("{}-{name}", self.prefix);
        self.add_ns(&ns);
        let port = format!("h{i}");
        // The namespace that owns the uplink: the host itself, or its router.
        let (uplink_ns, uplink_dev, ip, public_ip, router) = match nat {
            Nat::Public => {
                let ip = Ipv4Addr::new(198, 18, 0, 10 + i as u8);
                (ns.clone(), "eth0", ip, ip, None)
            }
            Nat::Cone | Nat::Symmetric => {
                let router = format!("{ns}-router");
                self.add_ns(&router);
                let wan = Ipv4Addr::new(198, 18, 0, 100 + i as u8);
                let lan_gw = format!("10.{i}.0.1");
                let lan_ip = Ipv4Addr::new(10, i as u8, 0, 2);
                run(
                    "ip",
                    &[
                        "-n", &router, "link", "add", "lan0", "type", "veth", "peer", "name",
                        "eth0", "netns", &ns,
                    ],
                );
                run(
                    "ip",
                    &[
                        "-n",
                        &router,
                        "addr",
                        "add",
                        &format!("{lan_gw}/24"),
                        "dev",
                        "lan0",
                    ],
                );
                run("ip", &["-n", &router, "link", "set", "lan0", "up"]);
                run(
                    "ip",
                    &[
                        "-n",
                        &ns,
                        "addr",
                        "add",
                        &format!("{lan_ip}/24"),
                        "dev",
                        "eth0",
                    ],
                );
                run("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
                run(
                    "ip",
                    &["-n", &ns, "route", "add", "default", "via", &lan_gw],
                );
                ns_run(&router, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
                let ports = if nat == Nat::Symmetric {
                    " fully-random"
                } else {
                    ""
                };
                nft(
                    &router,
                    &format!(
                        "table ip nat {{\n chain postrouting {{\n  type nat hook postrouting priority srcnat;\n  oifname \"wan0\" masquerade{ports}\n }}\n}}\n\
                         table ip filter {{\n chain forward {{\n  type filter hook forward priority 0; policy drop;\n  ct state established,related accept\n  iifname \"lan0\" accept\n }}\n chain input {{\n  type filter hook input priority 0; policy drop;\n  ct state established,related accept\n  iifname \"lan0\" accept\n  iifname \"lo\" accept\n }}\n}}\n"
                    ),
                );
                Self::no_offloads(&router, "lan0");
                Self::no_offloads(&ns, "eth0");
                (router.clone(), "wan0", lan_ip, wan, Some(router))
            }
        };
        run(
            "ip",
            &[
                "-n", &self.core, "link", "add", &port, "type", "veth", "peer", "name", uplink_dev,
                "netns", &uplink_ns,
            ],
        );
        run(
            "ip",
            &[
                "-n",
                &uplink_ns,
                "addr",
                "add",
                &format!("{public_ip}/24"),
                "dev",
                uplink_dev,
            ],
        );
        run("ip", &["-n", &uplink_ns, "link", "set", uplink_dev, "up"]);
        Self::no_offloads(&uplink_ns, uplink_dev);
        Self::no_offloads(&self.core, &port);
        if link.shaped() {
            // hN ─[delay line]─ dN ═ bN (bridge port); tbf on what leaves hN and dN.
            let (d, b) = (format!("d{i}"), format!("b{i}"));
            run(
                "ip",
                &[
                    "-n", &self.core, "link", "add", &d, "type", "veth", "peer", "name", &b,
                ],
            );
            for dev in [&port, &d, &b] {
                Self::no_offloads(&self.core, dev);
                run(
                    "ip",
                    &["-n", &self.core, "link", "set", dev, "promisc", "on"],
                );
                run("ip", &["-n", &self.core, "link", "set", dev, "up"]);
            }
            run(
                "ip",
                &["-n", &self.core, "link", "set", &b, "master", "br0"],
            );
            if let Some(rate) = link.rate_kbit {
                for dev in [&port, &d] {
                    // Bursts of 10 ms at the rate (at least two frames), a queue of 200 ms: a
                    // router's buffer, not an endless one.
                    let burst = (u64::from(rate) * 1000 / 8 / 100).max(3200);
                    run(
                        "tc",
                        &[
                            "-n",
                            &self.core,
                            "qdisc",
                            "add",
                            "dev",
                            dev,
                            "root",
                            "tbf",
                            "rate",
                            &format!("{rate}kbit"),
                            "burst",
                            &burst.to_string(),
                            "latency",
                            "200ms",
                        ],
                    );
                }
            }
            let line = delay::DelayLine::start(&self.core, &port, &d, link.one_way, link.loss)
                .unwrap_or_else(|e| panic!("cannot start the delay line of {name}: {e}"));
            self.delays.push(line);
        } else {
            run(
                "ip",
                &["-n", &self.core, "link", "set", &port, "master", "br0"],
            );
            run("ip", &["-n", &self.core, "link", "set", &port, "up"]);
        }
        // Every host gets an (empty) input filter for partitions.
        nft(
            &ns,
            "table inet lab {\n chain input {\n  type filter hook input priority 0;\n }\n}\n",
        );
        let host = Host {
            name: name.to_string(),
            ns,
            ip,
            public_ip,
            nat,
            router,
            port,
        };
        self.hosts.push(host.clone());
        host
    }

    /// Forwards `port` (TCP and UDP) on the router of `host` (behind NAT) to the host: what an
    /// operator does to make a node behind NAT reachable at the router's address.
    pub fn forward_port(&self, host: &Host, port: u16) {
        let router = host
            .router
            .as_ref()
            .expect("port forwarding needs a host behind NAT");
        nft(
            router,
            &format!(
                "table ip portfwd {{\n chain prerouting {{\n  type nat hook prerouting priority dstnat;\n  iifname \"wan0\" tcp dport {port} dnat to {ip}\n  iifname \"wan0\" udp dport {port} dnat to {ip}\n }}\n}}\n\
                 add rule ip filter forward ct status dnat accept\n",
                ip = host.ip
            ),
        );
    }

    /// Names `name` resolve to `ip` for processes started with `ip netns exec` in `host`
    /// (`/etc/netns/NS/hosts`, which `ip netns exec` mounts over `/etc/hosts`).
    pub fn add_name(&self, host: &Host, name: &str, ip: Ipv4Addr) {
        let dir = format!("/etc/netns/{}", host.ns);
        std::fs::create_dir_all(&dir).expect("/etc/netns dir");
        let path = format!("{dir}/hosts");
        let mut text =
            std::fs::read_to_string(&path).unwrap_or_else(|_| "127.0.0.1 localhost\n".to_string());
        text.push_str(&format!("{ip} {name}\n"));
        std::fs::write(&path, text).expect("hosts file");
        // A name server that is not there (nothing listens on the namespace's loopback): a
        // name not in the file fails at once instead of timing out.
        std::fs::write(format!("{dir}/resolv.conf"), "nameserver 127.0.0.1\n")
            .expect("resolv.conf");
    }

    /// "Pulls the cable" of a host (its bridge port goes down: its partners' packets and its own
    /// go nowhere, and it sees no carrier) or plugs it back.
    pub fn pull_cable(&self, host: &Host, pulled: bool) {
        let state = if pulled { "down" } else { "up" };
        run("ip", &["-n", &self.core, "link", "set", &host.port, state]);
    }

    /// Silently drops everything `from` sends to `to` (the other direction still works).
    pub fn drop_from(&self, from: &Host, to: &Host) {
        nft(
            &to.ns,
            &format!("add rule inet lab input ip saddr {} drop\n", from.public_ip),
        );
    }

    /// Both directions between `a` and `b` dropped.
    pub fn split(&self, a: &Host, b: &Host) {
        self.drop_from(a, b);
        self.drop_from(b, a);
    }

    /// Undoes every partition: all drop rules gone, all cables plugged in.
    pub fn heal(&self) {
        for h in &self.hosts {
            nft(&h.ns, "flush chain inet lab input\n");
            self.pull_cable(h, false);
        }
    }

    /// Frames the delay lines dropped on purpose so far (their loss), for reports.
    pub fn frames_lost(&self) -> u64 {
        self.delays.iter().map(|d| d.lost()).sum()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for d in &mut self.delays {
            d.stop();
        }
        // Routers and hosts first: deleting a namespace deletes its interfaces and their peers.
        for ns in self.namespaces.iter().rev() {
            if !try_run("ip", &["netns", "del", ns]) {
                eprintln!("warning: cannot delete network namespace {ns}");
            }
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{ns}"));
        }
    }
}

/// Runs `f` on a thread inside network namespace `ns` (sockets it opens and processes it
/// starts live there), and returns its result. Panics of `f` come through.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    let thread = std::thread::spawn(move || {
        enter(&path).unwrap_or_else(|e| panic!("cannot enter {path}: {e}"));
        f()
    });
    match thread.join() {
        Ok(t) => t,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Moves the calling thread into the network namespace at `path`.
pub fn enter(path: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path)?;
    // SAFETY: setns on a namespace file we hold open; it changes only this thread's network
    // namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The wait before asserting that something did *not* happen across a partition.
pub const SETTLE: Duration = Duration::from_secs(2);
