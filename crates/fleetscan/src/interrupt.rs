//! Ctrl-C and SIGTERM for `scan`, listened for from the start of the run: a
//! signal while the organization is still being planned ends the run the
//! documented way (exit 1, an error line, the summary and metrics written)
//! instead of killing the process with the default handler.

use tokio::sync::watch;

/// Whether a signal arrived, and a way to wait for one.
pub struct Interrupt {
    received: watch::Receiver<bool>,
}

impl Interrupt {
    /// Takes over SIGINT and SIGTERM now (before this call returns) and
    /// watches for them on `runtime`.
    pub fn listen(runtime: &tokio::runtime::Runtime) -> std::io::Result<Interrupt> {
        let _entered = runtime.enter();
        let (notify, received) = watch::channel(false);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // Registered here, synchronously: from now on the default
            // handlers no longer run, even before the task is first polled.
            let mut interrupt = signal(SignalKind::interrupt())?;
            let mut terminate = signal(SignalKind::terminate())?;
            runtime.spawn(async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
                let _ = notify.send(true);
            });
        }
        #[cfg(not(unix))]
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = notify.send(true);
            }
        });
        Ok(Interrupt { received })
    }

    /// Whether a signal has arrived.
    pub fn received(&self) -> bool {
        *self.received.borrow()
    }

    /// Resolves once a signal has arrived (never, if the listener is gone).
    pub async fn wait(&self) {
        let mut received = self.received.clone();
        if received.wait_for(|signalled| *signalled).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
