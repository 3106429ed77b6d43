//! A delay line: this crate's stand-in for `netem` (which the test kernel lacks). Two raw packet
//! sockets (AF_PACKET) on two interfaces of one namespace; every frame that arrives on one is
//! sent out of the other after a fixed delay, unless it is dropped at the loss rate. Frames keep
//! their order (the delay is the same for all). A `tbf` qdisc on the interfaces limits the
//! rate; the line itself adds no bandwidth limit.
//!
//! Two threads per direction: a reader that stamps each frame with when it is due, and a writer
//! that sends it then. Both stop within ~100 ms of [`DelayLine::stop`].

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest frame read (the links' MTU is 1500; offloads are off, so no frame is larger).
const FRAME_MAX: usize = 2048;
/// How often a blocked reader or writer looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// A running delay line; see the module comment.
pub struct DelayLine {
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

/// A raw packet socket bound to interface `dev` of the calling thread's namespace.
fn packet_socket(dev: &str) -> io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2); the result is checked before it is owned.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor no one else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let name = std::ffi::CString::new(dev).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: name is a valid C string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = proto;
    addr.sll_ifindex = index as i32;
    // SAFETY: addr is a sockaddr_ll of the size given.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: POLL.as_micros() as libc::suseconds_t,
    };
    // SAFETY: timeval of the size given.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &timeout as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
    }
    Ok(fd)
}

/// Receives one frame that arrived on the socket's interface (not one sent out of it); `None`
/// on timeout.
fn receive(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: sockaddr_ll is plain data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: buf and from are valid for the lengths given.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
                &mut from as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                &mut len,
            )
        };
        if n < 0 {
            return None;
        }
        if from.sll_pkttype == libc::PACKET_OUTGOING {
            continue;
        }
        return Some(n as usize);
    }
}

/// Sends one frame out of the socket's interface (a full queue drops it, as a router would).
fn send(fd: &OwnedFd, frame: &[u8]) {
    // SAFETY: frame is valid for its length.
    unsafe {
        libc::send(
            fd.as_raw_fd(),
            frame.as_ptr() as *const libc::c_void,
            frame.len(),
            0,
        );
    }
}

impl DelayLine {
    /// Starts a line between interfaces `a` and `b` of namespace `ns`: `one_way` delay and
    /// `loss` (0..1) in each direction.
    pub fn start(
        ns: &str,
        a: &str,
        b: &str,
        one_way: Duration,
        loss: f64,
    ) -> io::Result<DelayLine> {
        let (ns, a, b) = (ns.to_string(), a.to_string(), b.to_string());
        let (fa, fb) = std::thread::spawn(move || -> io::Result<(OwnedFd, OwnedFd)> {
            super::enter(&format!("/run/netns/{ns}"))?;
            Ok((packet_socket(&a)?, packet_socket(&b)?))
        })
        .join()
        .map_err(|_| io::Error::other("the delay line's setup thread panicked"))??;
        let (fa, fb) = (Arc::new(fa), Arc::new(fb));
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for (from, to) in [(fa.clone(), fb.clone()), (fb, fa)] {
            let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
            let (stop_r, lost_r) = (stop.clone(), lost.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; FRAME_MAX];
                while !stop_r.load(Ordering::Relaxed) {
                    let Some(n) = receive(&from, &mut buf) else {
                        continue;
                    };
                    if loss > 0.0 && rand::random::<f64>() < loss {
                        lost_r.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if tx
                        .send((Instant::now() + one_way, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }));
            let stop_w = stop.clone();
            threads.push(std::thread::spawn(move || {
                let mut due: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
                while !stop_w.load(Ordering::Relaxed) {
                    if due.is_empty() {
                        match rx.recv_timeout(POLL) {
                            Ok(f) => due.push_back(f),
                            Err(mpsc::RecvTimeoutError::Timeout) => continue,
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    while let Ok(f) = rx.try_recv() {
                        due.push_back(f);
                    }
                    let Some((at, _)) = due.front() else { continue };
                    let now = Instant::now();
                    if *at > now {
                        std::thread::sleep((*at - now).min(POLL));
                        continue;
                    }
                    if let Some((_, frame)) = due.pop_front() {
                        send(&to, &frame);
                    }
                }
            }));
        }
        Ok(DelayLine {
            stop,
            lost,
            threads,
        })
    }

    /// Frames dropped on purpose so far.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Stops the line's threads (waits for them).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop();
    }
}
