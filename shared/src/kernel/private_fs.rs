//! Files only the local server's user may read: the data dir (0700) and every key file in it
//! (0600). Another account on the machine must not read the keyring, the media signing key or
//! the store (which holds the sealed secrets).

use std::io;
use std::path::Path;

/// Creates `path` and any missing parents with mode 0700. An existing directory keeps its mode:
/// it may be one the user chose for more than Canopy.
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Writes `bytes` to `path` with mode 0600, also when the file existed with a looser mode.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    restrict(path)?;
    io::Write::write_all(&mut file, bytes)?;
    file.sync_all()
}

/// Mode 0600 for a key file Canopy made (one made before this rule may be looser).
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}
