//! A node's configuration file: YAML, unknown fields refused by the node's own
//! type, relative paths resolved against the file's directory.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why a node's configuration file cannot be used. `node` names the kind of
/// node (`orderer`, `committer`, `endorser`) in the message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the {node} configuration {path}: {source}")]
    Read {
        node: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {node} configuration {path} is not valid: {reason}")]
    Invalid {
        node: &'static str,
        path: PathBuf,
        reason: String,
    },
}

/// A configuration file that was read: what its errors name, and where its
/// relative paths start.
pub struct ConfigFile {
    node: &'static str,
    path: PathBuf,
}

impl ConfigFile {
    /// Reads and parses the `node` configuration at `path`.
    pub fn read<T: DeserializeOwned>(
        node: &'static str,
        path: &Path,
    ) -> Result<(T, ConfigFile), ConfigFileError> {
        let file = ConfigFile {
            node,
            path: path.to_path_buf(),
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            node,
            path: file.path.clone(),
            source,
        })?;
        let value = serde_yaml::from_str(&text).map_err(|e| file.invalid(e.to_string()))?;
        Ok((value, file))
    }

    /// The error for a value the file may not have.
    pub fn invalid(&self, reason: impl Into<String>) -> ConfigFileError {
        ConfigFileError::Invalid {
            node: self.node,
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Makes a relative `path` relative to the file's directory.
    pub fn resolve(&self, path: &mut PathBuf) {
        if path.is_relative() {
            *path = self.path.parent().unwrap_or(Path::new(".")).join(&*path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Conf {
        dir: PathBuf,
    }

    #[test]
    fn reads_resolves_and_names_the_node_in_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("node.yaml");
        std::fs::write(&path, "dir: data\n").unwrap();
        let (mut conf, file) = ConfigFile::read::<Conf>("orderer", &path).unwrap();
        file.resolve(&mut conf.dir);
        assert_eq!(conf.dir, tmp.path().join("data"));
        let e = file.invalid("no good").to_string();
        assert!(e.starts_with("the orderer configuration"), "{e}");

        std::fs::write(&path, "dir: data\ncolour: blue\n").unwrap();
        let e = ConfigFile::read::<Conf>("committer", &path)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("committer") && e.contains("colour"), "{e}");
        assert!(matches!(
            ConfigFile::read::<Conf>("endorser", &tmp.path().join("none.yaml")),
            Err(ConfigFileError::Read { .. })
        ));
    }
}
