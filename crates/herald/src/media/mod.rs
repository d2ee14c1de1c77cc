//! The media engine's I/O shell: RTP ports, media worker threads, and the prompt library.
//!
//! The call application (on the SIP runtime) opens a stream per answered call on the least
//! loaded worker and talks to it with [`worker::Command`]s; workers answer with
//! [`worker::Notice`]s on one channel the SIP driver selects on. Streams never move between
//! workers, so a stream's machine is only ever touched by one thread.
//!
//! A B2BUA call bridges two streams (the caller's leg and the agent's): both must live on one
//! worker, which relays between them each tick. [`MediaEngine::open_beside`] places the second
//! leg on the first one's worker, and [`MediaEngine::bridge`] checks that they share one.

pub mod ports;
pub mod prompts;
pub mod worker;

use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::mpsc;
use std::thread::JoinHandle;

use herald_media::stream::MediaStream;

use worker::{Command, NoticeSink, StreamKey, Worker, WorkerConfig};

/// Handle on the media workers.
pub struct MediaEngine {
    workers: Vec<WorkerHandle>,
    placement: HashMap<StreamKey, usize>,
    next_key: StreamKey,
}

struct WorkerHandle {
    commands: mpsc::Sender<Command>,
    thread: JoinHandle<()>,
    streams: usize,
}

impl MediaEngine {
    /// Starts `count` worker threads (at least one).
    pub fn start(count: usize, config: WorkerConfig, notices: NoticeSink) -> std::io::Result<Self> {
        let mut workers = Vec::new();
        for index in 0..count.max(1) {
            let (tx, rx) = mpsc::channel();
            let worker = Worker::new(config, rx, notices.clone())?;
            let thread = std::thread::Builder::new()
                .name(format!("herald-media-{index}"))
                .spawn(move || worker.run())?;
            workers.push(WorkerHandle {
                commands: tx,
                thread,
                streams: 0,
            });
        }
        Ok(Self {
            workers,
            placement: HashMap::new(),
            next_key: 1,
        })
    }

    /// Hands a stream, its RTP socket and (without rtcp-mux) its RTCP socket to the least
    /// loaded worker.
    pub fn open(
        &mut self,
        socket: UdpSocket,
        rtcp: Option<UdpSocket>,
        stream: MediaStream,
    ) -> StreamKey {
        let index = self.least_loaded();
        self.open_on(index, socket, rtcp, stream)
    }

    /// Like [`MediaEngine::open`], on the worker that holds `beside` (the other leg of a call
    /// to be bridged), or on the least loaded one if `beside` is unknown (closed already).
    pub fn open_beside(
        &mut self,
        socket: UdpSocket,
        rtcp: Option<UdpSocket>,
        stream: MediaStream,
        beside: StreamKey,
    ) -> StreamKey {
        let index = match self.placement.get(&beside) {
            Some(&index) => index,
            None => self.least_loaded(),
        };
        self.open_on(index, socket, rtcp, stream)
    }

    /// Bridges two streams from their worker's next tick: each sends what the other receives
    /// ([`Command::Bridge`]). False, and nothing happens, when they are not on one worker (one
    /// was not opened beside the other) or one is unknown.
    pub fn bridge(&self, a: StreamKey, b: StreamKey) -> bool {
        match (self.placement.get(&a), self.placement.get(&b)) {
            (Some(x), Some(y)) if x == y => {
                self.command(a, Command::Bridge { a, b });
                true
            }
            _ => false,
        }
    }

    /// Ends the bridge `key` is in ([`Command::Unbridge`]).
    pub fn unbridge(&self, key: StreamKey) {
        self.command(key, Command::Unbridge { key });
    }

    fn least_loaded(&self) -> usize {
        (0..self.workers.len())
            .min_by_key(|&i| self.workers[i].streams)
            .unwrap_or(0)
    }

    fn open_on(
        &mut self,
        index: usize,
        socket: UdpSocket,
        rtcp: Option<UdpSocket>,
        stream: MediaStream,
    ) -> StreamKey {
        let key = self.next_key;
        self.next_key += 1;
        self.placement.insert(key, index);
        let worker = &mut self.workers[index];
        worker.streams += 1;
        let _ = worker.commands.send(Command::Open {
            key,
            socket,
            rtcp,
            stream: Box::new(stream),
        });
        key
    }

    /// Sends a command to the worker that holds the stream.
    pub fn command(&self, key: StreamKey, command: Command) {
        if let Some(worker) = self.placement.get(&key).and_then(|&i| self.workers.get(i)) {
            let _ = worker.commands.send(command);
        }
    }

    /// Forgets a stream its worker reported closed.
    pub fn closed(&mut self, key: StreamKey) {
        if let Some(index) = self.placement.remove(&key)
            && let Some(worker) = self.workers.get_mut(index)
        {
            worker.streams = worker.streams.saturating_sub(1);
        }
    }

    /// Closes every stream (each sends its RTCP BYE) and waits for the workers to finish:
    /// every command channel closes first, then each worker is joined.
    pub fn shutdown(self) {
        let threads: Vec<_> = self.workers.into_iter().map(|w| w.thread).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::worker::tests::{loopback, pcmu_stream};
    use super::*;

    #[test]
    fn the_second_leg_opens_beside_the_first_and_only_legs_of_one_worker_bridge() {
        let tick = Duration::from_millis(5);
        let mut engine = MediaEngine::start(2, WorkerConfig { tick }, Arc::new(|_| {})).unwrap();
        let open = |engine: &mut MediaEngine, beside: Option<StreamKey>| {
            let socket = loopback();
            let stream = pcmu_stream(socket.local_addr().unwrap());
            match beside {
                Some(beside) => engine.open_beside(socket, None, stream, beside),
                None => engine.open(socket, None, stream),
            }
        };
        let a = open(&mut engine, None);
        let b = open(&mut engine, Some(a));
        let c = open(&mut engine, None);
        let worker = |key| engine.placement[&key];
        assert_eq!(worker(b), worker(a), "beside the first leg");
        assert_ne!(worker(c), worker(a), "the least loaded worker");
        assert!(engine.bridge(a, b));
        assert!(
            !engine.bridge(a, c),
            "legs on two workers cannot be bridged"
        );
        assert!(!engine.bridge(a, 99));
        // Beside a stream that is gone: the least loaded worker.
        let d = open(&mut engine, Some(99));
        assert_eq!(engine.placement[&d], engine.placement[&c]);
        engine.unbridge(a);
        engine.shutdown();
    }
}
