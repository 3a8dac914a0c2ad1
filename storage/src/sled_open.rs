//! Opening sled databases.

use std::path::Path;

/// Opens the sled database in `dir`, waiting up to 5 s for the lock of a previous
/// handle: sled releases its file lock only when its background flusher thread
/// exits, a few hundred milliseconds after the last handle is dropped, so a quick
/// reopen in the same process (tests, a channel restarted) would otherwise fail.
/// Another process holding the lock still fails, after the wait.
pub fn open_sled(dir: &Path) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::Config::new().path(dir).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}
