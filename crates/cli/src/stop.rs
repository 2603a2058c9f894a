//! Ctrl-C and SIGTERM for the commands that run until stopped (`serve`,
//! `sync --watch`), listened for from before they say anything.
//!
//! `tokio::signal::ctrl_c()` is an `async fn`: it installs its handler on
//! its first poll, not when it is called. A SIGINT that came between a
//! command's first line and that poll met the default action and killed
//! the process (exit by signal, no clean shutdown): CI saw it once, a test
//! stopping `sync --watch` as soon as it printed. [`StopSignals::listen`]
//! installs both handlers at once; a signal that comes after it is kept
//! until [`StopSignals::recv`] takes it.

use anyhow::Context;

pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl StopSignals {
    /// Installs the handlers now. Must run inside the tokio runtime.
    pub fn listen() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            })
        }
        #[cfg(windows)]
        {
            Ok(StopSignals { ctrl_c: tokio::signal::windows::ctrl_c().context("listening for Ctrl-C")? })
        }
    }

    /// Resolves at the first Ctrl-C or SIGTERM since [`StopSignals::listen`].
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(windows)]
        self.ctrl_c.recv().await;
    }
}
