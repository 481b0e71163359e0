//! SIGUSR2: the running server starts its successor itself, from the
//! binary now at the path it was started from (an upgrade replaces that
//! file), with the arguments it was given and `--takeover`. The child
//! inherits the environment and standard streams, and outlives its
//! parent.

use std::ffi::OsString;
use std::path::PathBuf;

/// The binary and arguments this process was started with.
#[derive(Debug, Clone)]
pub struct Exe {
    path: Option<PathBuf>,
    args: Vec<OsString>,
}

impl Exe {
    /// Read at startup: `/proc/self/exe` names the file that was run, and
    /// after an upgrade replaced it, the path is the new binary's.
    pub fn current() -> Self {
        Self {
            path: std::env::current_exe().ok(),
            args: std::env::args_os().skip(1).collect(),
        }
    }

    /// The successor's arguments: these, with `--takeover` once.
    fn successor_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = self
            .args
            .iter()
            .filter(|a| a.as_os_str() != "--takeover")
            .cloned()
            .collect();
        args.push("--takeover".into());
        args
    }

    /// Starts the successor; a failure is logged and changes nothing.
    pub fn spawn_successor(&self) {
        let Some(path) = &self.path else {
            tracing::error!("SIGUSR2: this process does not know its binary");
            return;
        };
        match std::process::Command::new(path)
            .args(self.successor_args())
            .spawn()
        {
            Ok(mut child) => {
                let pid = child.id();
                tracing::info!(pid, binary = %path.display(), "SIGUSR2: started the successor");
                // Reaped if it ends while this process lives (a failed
                // takeover); otherwise it outlives us.
                let _ = std::thread::Builder::new()
                    .name("weir-successor".into())
                    .spawn(move || {
                        if let Ok(status) = child.wait() {
                            tracing::warn!(pid, %status, "the successor exited");
                        }
                    });
            }
            Err(e) => {
                tracing::error!(error = %e, binary = %path.display(), "SIGUSR2: cannot start the successor")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successor_gets_the_same_arguments_and_takeover_once() {
        let exe = Exe {
            path: None,
            args: ["serve", "--takeover", "--config", "w.toml"]
                .map(OsString::from)
                .to_vec(),
        };
        assert_eq!(
            exe.successor_args(),
            ["serve", "--config", "w.toml", "--takeover"].map(OsString::from)
        );
    }
}
