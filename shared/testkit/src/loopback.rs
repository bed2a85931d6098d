//! A server on 127.0.0.1 run by a tokio runtime of its own, on a thread of its own: any caller,
//! plain code or a multi-thread tokio test, starts and drops it the same way, and dropping it
//! ends the serving future and the runtime, and with them every connection task.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct LoopbackServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Binds a free loopback port and runs `serve(listener, stop)` on the server's thread;
    /// `serve` should return once `stop` fires (or is dropped).
    pub fn start<F, Fut>(name: &str, serve: F) -> io::Result<LoopbackServer>
    where
        F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let (ready, started) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|rt| {
                        let listener = rt.block_on(async { TcpListener::from_std(listener) })?;
                        Ok((rt, listener))
                    });
                match runtime {
                    Ok((rt, listener)) => {
                        let _ = ready.send(Ok(()));
                        rt.block_on(serve(listener, stopped));
                        // Dropping the runtime here ends every connection task.
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            })?;
        started
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other(format!("{name}: its thread ended"))))?;
        Ok(LoopbackServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
