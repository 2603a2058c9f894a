//! The device's situation (network cost, power, app state) as the sync
//! policy sees it: what the OS reports, with what a tester set on top.
//!
//! Testers switch these like the network (`outpost net metered on`,
//! `outpost net power low`, the app's network panel): the values go to
//! [`DEVICE_FILE`] in the data directory, which a running engine watches
//! (with `network.json`, `crate::net::ControlWatcher`) and applies within a
//! second. A field left out means "as the OS says"; with no OS signal, a
//! device is on an unmetered network and on mains power.

use std::path::Path;

#[cfg(target_os = "linux")]
pub mod os;

use serde::{Deserialize, Serialize};

use crate::net::{write_atomically, ControlError};
use crate::policy::{AppState, Network, Power, Situation};

/// The testers' device file's name inside the data directory.
pub const DEVICE_FILE: &str = "device.json";

/// What a tester set; `None` leaves the OS's reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeviceOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<Power>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppState>,
}

impl DeviceOverrides {
    /// `os` with these overrides on top.
    pub fn over(&self, os: Situation) -> Situation {
        Situation {
            network: self.network.unwrap_or(os.network),
            power: self.power.unwrap_or(os.power),
            app: self.app.unwrap_or(os.app),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == DeviceOverrides::default()
    }
}

/// The overrides set in `dir`; no file means none.
pub fn read_device(dir: &Path) -> Result<DeviceOverrides, ControlError> {
    let path = dir.join(DEVICE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DeviceOverrides::default()),
        Err(source) => return Err(ControlError::Unreadable { path, source }),
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    serde_json::from_slice(bytes).map_err(|e| ControlError::Malformed {
        path: path.clone(),
        line: e.line(),
        column: e.column(),
        message: format!(
            "{e}; expected an object such as {{\"network\":\"metered\",\"power\":\"battery\"}} \
             (`outpost net metered off` and `outpost net power charging` rewrite it)"
        ),
    })
}

/// Writes the overrides (atomically, as the network control file).
pub fn write_device(dir: &Path, overrides: &DeviceOverrides) -> Result<(), ControlError> {
    write_atomically(dir, DEVICE_FILE, overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_round_trip_and_lay_over_the_os() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_device(dir.path()).expect("no file"), DeviceOverrides::default());
        let o = DeviceOverrides { network: Some(Network::Metered), power: Some(Power::Low), app: None };
        write_device(dir.path(), &o).expect("write");
        assert_eq!(read_device(dir.path()).expect("read"), o);
        let text = std::fs::read_to_string(dir.path().join(DEVICE_FILE)).expect("file");
        assert!(!text.contains("app"), "a field not set is left out: {text}");
        let os = Situation { network: Network::Unmetered, power: Power::Charging, app: AppState::Background };
        assert_eq!(o.over(os), Situation { network: Network::Metered, power: Power::Low, app: AppState::Background });
    }

    #[test]
    fn a_bad_file_is_refused_with_its_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(DEVICE_FILE), "{\"power\":\"nuclear\"}").expect("write");
        let e = read_device(dir.path()).expect_err("bad power");
        assert!(matches!(e, ControlError::Malformed { line: 1, .. }), "{e}");
        std::fs::write(dir.path().join(DEVICE_FILE), "{\"metred\":true}").expect("write");
        assert!(read_device(dir.path()).is_err(), "unknown fields are refused");
    }
}
