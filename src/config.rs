//! Profiles: TOML files in `profiles/` naming each experiment's grid. Parsing is strict: an
//! unknown key, a wrong type or an impossible value is one line naming the file, the line or
//! the key. This module reads the profile's global keys and hands each experiment its own
//! table (`Profile::section`), which the experiment's `Config` type deserializes and
//! validates (`Validate`, with the shared checks of [`Check`]).

use crate::data::{DataPolicy, EMBEDDED_MNIST_LEN};
use crate::{Error, Result};
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::Path;

/// The profiles shipped in the repository, embedded so the binary works from any folder.
pub const BUILTIN_PROFILES: [(&str, &str); 3] = [
    ("quick", include_str!("../profiles/quick.toml")),
    ("default", include_str!("../profiles/default.toml")),
    ("paper", include_str!("../profiles/paper.toml")),
];

/// One profile: a name, a master seed and the grid of every experiment it runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Master seed of every point's generator (see `seed`).
    pub master_seed: u64,
    /// `auto` (official data when installed, else the embedded subset) or `embedded`.
    #[serde(default)]
    pub data: DataPolicy,
    /// Experiment id → its table as written; each experiment reads its own with `section`.
    pub experiments: BTreeMap<String, toml::Table>,
    /// Where the profile came from (`profiles/quick.toml` or the path given); not in the file.
    #[serde(skip)]
    pub source: String,
    /// SHA-256 of the profile's text, recorded in the manifest.
    #[serde(skip)]
    pub sha256: String,
    /// The text, re-read per experiment so that errors name the line.
    #[serde(skip)]
    text: String,
}

impl Profile {
    /// Load a built-in profile by name (`quick`, `default`, `paper`) or a TOML file by path.
    /// Only the global keys are checked here; `plan::load_profile` checks every experiment's
    /// table too.
    pub fn load(name_or_path: &str) -> Result<Profile> {
        if let Some((name, text)) = BUILTIN_PROFILES.iter().find(|(n, _)| *n == name_or_path) {
            return Profile::parse(text, &format!("profiles/{name}.toml"));
        }
        let path = Path::new(name_or_path);
        let looks_like_path = name_or_path.ends_with(".toml") || name_or_path.contains('/');
        if !looks_like_path {
            let names: Vec<&str> = BUILTIN_PROFILES.iter().map(|(n, _)| *n).collect();
            return Err(Error::Input(format!(
                "unknown profile '{name_or_path}': use one of {} or a path to a .toml file",
                names.join(", ")
            )));
        }
        let bytes = crate::fsutil::read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Config {
            file: name_or_path.to_string(),
            msg: "not UTF-8 text".into(),
        })?;
        Profile::parse(&text, name_or_path)
    }

    /// Parse profile text (global keys only); `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Profile> {
        let mut profile: Profile = toml::from_str(text).map_err(|e| Error::Config {
            file: file.to_string(),
            msg: one_line_toml_error(text, &e),
        })?;
        profile.source = file.to_string();
        profile.sha256 = crate::fsutil::sha256_hex(text.as_bytes());
        profile.text = text.to_string();
        Ok(profile)
    }

    /// Experiment `id`'s table deserialized as `C` (None when the profile does not run it).
    /// Errors name the file and the line.
    pub fn section<C: DeserializeOwned>(&self, id: &str) -> Result<Option<C>> {
        if !self.experiments.contains_key(id) {
            return Ok(None);
        }
        let err = |e: toml::de::Error| Error::Config {
            file: self.source.clone(),
            msg: one_line_toml_error(&self.text, &e),
        };
        let de = toml::de::Deserializer::parse(&self.text).map_err(err)?;
        Ok(Some(
            Pick::<C> {
                path: &["experiments", id],
                _c: PhantomData,
            }
            .deserialize(de)
            .map_err(err)?
            .ok_or_else(|| Error::Internal(format!("profile section {id} vanished")))?,
        ))
    }

    /// The 1-based line of experiment `id`'s table header, for messages.
    pub fn line_of(&self, id: &str) -> Option<usize> {
        let header = format!("[experiments.{id}]");
        self.text
            .lines()
            .position(|l| l.trim() == header)
            .map(|i| i + 1)
    }

    /// The checks shared by every experiment's table, for experiment `id`.
    pub fn check(&self, id: &str) -> Check {
        Check {
            at: format!("experiments.{id}"),
            // the embedded subset bounds n, unless official data (60000 MNIST, 50000 CIFAR-10
            // training images) may be used; then a too-large n is reported when data is loaded
            max_n: match self.data {
                DataPolicy::Embedded => EMBEDDED_MNIST_LEN,
                DataPolicy::Auto => 60_000,
            },
        }
    }
}

/// Deserializes a table but keeps only the value at `path` (`["experiments", id]` in a whole
/// profile), as `C`; every other value is skipped. Errors keep toml's position of the value.
struct Pick<'a, C> {
    path: &'a [&'a str],
    _c: PhantomData<C>,
}

impl<'de, C: DeserializeOwned> DeserializeSeed<'de> for Pick<'_, C> {
    type Value = Option<C>;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        de: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de, C: DeserializeOwned> Visitor<'de> for Pick<'_, C> {
    type Value = Option<C>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a table")
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            match self.path {
                [first] if key == *first => found = Some(map.next_value::<C>()?),
                [first, rest @ ..] if key == *first => {
                    found = map.next_value_seed(Pick::<C> {
                        path: rest,
                        _c: PhantomData,
                    })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// An experiment's configuration checks the values serde cannot: ranges, non-empty lists.
pub trait Validate {
    /// `Err` with one line naming `experiments.<id>.<key>` and what would be possible.
    fn validate(&self, check: &Check) -> std::result::Result<(), String>;
}

/// The data every data-reading experiment is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSpec {
    /// Number of samples (the first n of the data set).
    pub n: usize,
    /// Strided subsampling factor f of the image (`img[::f, ::f]`).
    pub downsample: usize,
    /// Replace the data by its whitened version (thin SVD), so that κ(Σ) = 1.
    pub whiten: bool,
}

/// The shared checks, naming `experiments.<id>.<key>` in their messages.
pub struct Check {
    at: String,
    max_n: usize,
}

type Checked = std::result::Result<(), String>;

impl Check {
    /// An error about `key`.
    pub fn fail(&self, key: &str, msg: &str) -> Checked {
        Err(format!("{}.{key}: {msg}", self.at))
    }

    /// The data spec: 1 ≤ f ≤ 28, 1 ≤ n ≤ the data available, n ≥ d when whitening.
    pub fn data(&self, spec: DataSpec) -> Checked {
        let DataSpec {
            n,
            downsample: f,
            whiten: _,
        } = spec;
        self.downsample("downsample", &f)?;
        if n == 0 || n > self.max_n {
            let what = if self.max_n == EMBEDDED_MNIST_LEN {
                "the embedded MNIST subset; data = \"auto\" allows official data"
            } else {
                "the official MNIST training set"
            };
            return self.fail(
                "n",
                &format!("{n} is impossible, use 1 to {} ({what})", self.max_n),
            );
        }
        Ok(())
    }

    /// 1 ≤ f ≤ 28.
    pub fn downsample(&self, key: &str, f: &usize) -> Checked {
        if (1..=28).contains(f) {
            Ok(())
        } else {
            self.fail(key, &format!("{f} is impossible, use 1 to 28"))
        }
    }

    /// `v ≥ 1`.
    pub fn at_least_one(&self, key: &str, v: &usize) -> Checked {
        if *v == 0 {
            self.fail(key, "must be at least 1")
        } else {
            Ok(())
        }
    }

    /// A non-empty list of values ≥ 1.
    pub fn positive_list(&self, key: &str, values: &[usize]) -> Checked {
        if values.is_empty() {
            return self.fail(key, "must not be empty");
        }
        if values.contains(&0) {
            return self.fail(key, "0 is impossible, every value must be at least 1");
        }
        Ok(())
    }

    /// A non-empty list of values in `range`, described as `what`.
    pub fn list_in(
        &self,
        key: &str,
        values: &[f64],
        range: impl std::ops::RangeBounds<f64>,
        what: &str,
    ) -> Checked {
        if values.is_empty() || values.iter().any(|v| !range.contains(v)) {
            self.fail(key, what)
        } else {
            Ok(())
        }
    }

    /// A positive, finite learning rate.
    pub fn rate(&self, key: &str, v: &f64) -> Checked {
        if v.is_finite() && *v > 0.0 {
            Ok(())
        } else {
            self.fail(
                key,
                &format!("{v} is impossible, a learning rate must be positive"),
            )
        }
    }
}

/// toml's messages span several lines; ours name the line and its text on one.
fn one_line_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("line {line_no} (`{line}`): {msg}")
        }
        None => msg,
    }
}

/// Declares an experiment's configuration: a strict serde struct (unknown keys refused) and its
/// `Validate`. Each field may name the [`Check`] rule its value must pass (`=> positive_list`,
/// `=> at_least_one`, `=> rate`); `more path` adds a function for the checks no rule
/// expresses. With `[data]` the struct also gets the shared data keys `n`, `downsample` and
/// `whiten` (a [`DataSpec`], checked by [`Check::data`]) and a `data()` accessor.
///
/// ```text
/// gncond::config! {
///     /// Its table in a profile.
///     pub struct Config [data] {
///         /// Hidden widths m.
///         widths: Vec<usize> => positive_list,
///         seeds: usize => at_least_one,
///     }
/// }
/// ```
#[macro_export]
macro_rules! config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident [data] {
            $($(#[$fmeta:meta])* $field:ident : $ty:ty $(=> $rule:ident)?),* $(,)?
        }
        $(more $more:path)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Number of samples (the first n of the data set).
            pub n: usize,
            /// Strided subsampling factor f of the image (`img[::f, ::f]`).
            pub downsample: usize,
            /// Replace the data by its whitened version (thin SVD), so that κ(Σ) = 1.
            pub whiten: bool,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            /// The data keys as one value.
            pub fn data(&self) -> $crate::config::DataSpec {
                $crate::config::DataSpec {
                    n: self.n,
                    downsample: self.downsample,
                    whiten: self.whiten,
                }
            }
        }

        impl $crate::config::Validate for $name {
            fn validate(&self, check: &$crate::config::Check) -> std::result::Result<(), String> {
                check.data(self.data())?;
                $($(check.$rule(stringify!($field), &self.$field)?;)?)*
                $($more(self, check)?;)?
                Ok(())
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$fmeta:meta])* $field:ident : $ty:ty $(=> $rule:ident)?),* $(,)?
        }
        $(more $more:path)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::config::Validate for $name {
            fn validate(&self, check: &$crate::config::Check) -> std::result::Result<(), String> {
                $($(check.$rule(stringify!($field), &self.$field)?;)?)*
                $($more(self, check)?;)?
                Ok(())
            }
        }
    };
}
