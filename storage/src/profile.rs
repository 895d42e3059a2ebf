//! AWS shared configuration: the credentials and config files the AWS CLI writes (`~/.aws/credentials`,
//! `~/.aws/config`, or `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`), read the way the AWS tools read them:
//! the profile named by `--profile`, else `AWS_PROFILE`, else `default`; keys from the credentials file first, then
//! the config file (`[profile NAME]` there, `[NAME]` in the credentials file); `region` and `endpoint_url` from
//! either. A profile that gets its keys some other way (SSO, an assumed role, `credential_process`) is named with
//! what to do instead: KineDesk runs no helper programs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::StorageError;

/// What a profile gives.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

// Never prints a key.
impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "…"))
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "…"))
            .field("session_token", &self.session_token.as_ref().map(|_| "…"))
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// Parses an AWS INI file: `[section]` headers, `key = value` lines, `#`/`;` comments; indented lines (nested
/// settings such as `s3 =` blocks) belong to the key above and are skipped.
fn parse_ini(text: &str) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let nested = line.starts_with([' ', '\t']);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_owned();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        if nested {
            continue;
        }
        if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            let value = value.trim();
            if !value.is_empty() {
                sections.entry(section.clone()).or_default().insert(key.trim().to_ascii_lowercase(), value.to_owned());
            }
        }
    }
    sections
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Where the AWS tools keep their files.
#[must_use]
pub fn files() -> (Option<PathBuf>, Option<PathBuf>) {
    let credentials = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".aws/credentials")));
    let config =
        std::env::var_os("AWS_CONFIG_FILE").map(PathBuf::from).or_else(|| home().map(|h| h.join(".aws/config")));
    (credentials, config)
}

fn read_sections(path: Option<&Path>) -> Result<Sections, StorageError> {
    let Some(path) = path else { return Ok(Sections::new()) };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_ini(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Sections::new()),
        Err(error) => Err(crate::io(path, &error)),
    }
}

/// Loads a profile. `explicit` is `--profile`; without it `AWS_PROFILE` or `default` is used, and a missing
/// `default` is no error (`Ok(None)`: the environment or the machine's role may provide credentials). A profile asked
/// for by name that is not there is an error listing those that are.
pub fn load(explicit: Option<&str>) -> Result<Option<Profile>, StorageError> {
    let (credentials, config) = files();
    load_from(explicit, credentials.as_deref(), config.as_deref())
}

/// [`load`] with the files given.
pub fn load_from(
    explicit: Option<&str>,
    credentials: Option<&Path>,
    config: Option<&Path>,
) -> Result<Option<Profile>, StorageError> {
    let from_env = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let named = explicit.map(str::to_owned).or(from_env);
    let name = named.clone().unwrap_or_else(|| "default".to_owned());
    let credentials_sections = read_sections(credentials)?;
    let config_sections = read_sections(config)?;
    let config_name = if name == "default" { "default".to_owned() } else { format!("profile {name}") };
    let from_credentials = credentials_sections.get(&name);
    let from_config = config_sections.get(&config_name).or_else(|| config_sections.get(&name));
    if from_credentials.is_none() && from_config.is_none() {
        if named.is_none() {
            return Ok(None);
        }
        let mut known: Vec<String> = credentials_sections.keys().cloned().collect();
        known.extend(config_sections.keys().map(|k| k.strip_prefix("profile ").unwrap_or(k).trim().to_owned()));
        known.sort();
        known.dedup();
        return Err(StorageError::Url(format!(
            "no AWS profile {name:?} in {} or {} (profiles there: {})",
            credentials.map_or_else(|| "~/.aws/credentials".into(), |p| p.display().to_string()),
            config.map_or_else(|| "~/.aws/config".into(), |p| p.display().to_string()),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )));
    }
    let get =
        |key: &str| from_credentials.and_then(|s| s.get(key)).or_else(|| from_config.and_then(|s| s.get(key))).cloned();
    let profile = Profile {
        name: name.clone(),
        access_key_id: get("aws_access_key_id"),
        secret_access_key: get("aws_secret_access_key"),
        session_token: get("aws_session_token"),
        region: get("region"),
        endpoint_url: get("endpoint_url"),
    };
    if profile.access_key_id.is_some() != profile.secret_access_key.is_some() {
        return Err(StorageError::Url(format!(
            "AWS profile {name:?} has {} but not {}",
            if profile.access_key_id.is_some() { "aws_access_key_id" } else { "aws_secret_access_key" },
            if profile.access_key_id.is_some() { "aws_secret_access_key" } else { "aws_access_key_id" },
        )));
    }
    if profile.access_key_id.is_none() {
        let helper = ["credential_process", "sso_session", "sso_start_url", "role_arn", "web_identity_token_file"]
            .into_iter()
            .find(|key| get(key).is_some());
        if let Some(helper) = helper {
            return Err(StorageError::Url(format!(
                "AWS profile {name:?} gets its keys through {helper}, which KineDesk does not run: export them \
                 first (`eval \"$(aws configure export-credentials --profile {name} --format env)\"`) and run the \
                 same command again"
            )));
        }
    }
    Ok(Some(profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_read_like_the_aws_tools_read_them() {
        let dir = std::env::temp_dir().join(format!("kinedesk-aws-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let credentials = dir.join("credentials");
        let config = dir.join("config");
        std::fs::write(
            &credentials,
            "# keys\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = sdefault\n\n[lab]\n\
             aws_access_key_id=AKLAB\naws_secret_access_key=slab\naws_session_token = tok\n[half]\n\
             aws_access_key_id = AKHALF\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[default]\nregion = eu-west-1\n[profile lab]\nregion = us-west-2\nendpoint_url = https://minio.lab:9000\n\
             s3 =\n  addressing_style = path\n[profile sso]\nsso_session = corp\nregion = eu-central-1\n",
        )
        .unwrap();
        let lab = load_from(Some("lab"), Some(&credentials), Some(&config)).unwrap().unwrap();
        assert_eq!(lab.access_key_id.as_deref(), Some("AKLAB"));
        assert_eq!(lab.secret_access_key.as_deref(), Some("slab"));
        assert_eq!(lab.session_token.as_deref(), Some("tok"));
        assert_eq!(lab.region.as_deref(), Some("us-west-2"));
        assert_eq!(lab.endpoint_url.as_deref(), Some("https://minio.lab:9000"));
        assert!(!format!("{lab:?}").contains("slab"), "the secret must never print");
        let missing = load_from(Some("nope"), Some(&credentials), Some(&config)).unwrap_err().to_string();
        assert!(missing.contains("\"nope\"") && missing.contains("default, half, lab, sso"), "{missing}");
        let sso = load_from(Some("sso"), Some(&credentials), Some(&config)).unwrap_err().to_string();
        assert!(sso.contains("sso_session") && sso.contains("export-credentials"), "{sso}");
        let half = load_from(Some("half"), Some(&credentials), Some(&config)).unwrap_err().to_string();
        assert!(half.contains("aws_secret_access_key"), "{half}");
        let nothing = dir.join("absent");
        if std::env::var_os("AWS_PROFILE").is_none() {
            let default = load_from(None, Some(&credentials), Some(&config)).unwrap().unwrap();
            assert_eq!(default.access_key_id.as_deref(), Some("AKDEFAULT"));
            assert_eq!(default.region.as_deref(), Some("eu-west-1"));
            assert_eq!(load_from(None, Some(&nothing), Some(&nothing)).unwrap(), None);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
