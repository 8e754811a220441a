//! What this kernel's tracefs offers, from `README` and the files present, and the kernel
//! version that added each feature (kernel-notes.md §1 version summary).

use std::fmt;
use std::path::PathBuf;

use super::error::TracefsError;
use super::error::TracefsErrorKind;
use super::error::TracefsOp;
use super::error::TracefsResult;
use super::root::Tracefs;
use super::root::DYNAMIC_EVENTS;
use super::root::KPROBE_EVENTS;
use super::root::README;
use super::root::UPROBE_EVENTS;
use crate::parse::parse_readme;
use crate::parse::ReadmeFeatures;

/// A tracefs feature a probe may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Feature {
    /// `kprobe_events`: kernel probes.
    KprobeEvents,
    /// `uprobe_events`: user-space probes.
    UprobeEvents,
    /// `dynamic_events`: the generic file (needed for fprobe, tprobe and eprobe).
    DynamicEvents,
    /// `f:` fprobe events.
    Fprobe,
    /// `t:` tracepoint probes.
    Tprobe,
    /// `e:` event probes.
    Eprobe,
    /// `SYM%return` kretprobes.
    KprobeReturnSuffix,
    /// `PATH:OFF%return` uretprobes.
    UprobeReturnSuffix,
    /// `$argN` fetch args.
    ArgN,
    /// `$argN` on return probes.
    ReturnArgN,
    /// `$comm`.
    Comm,
    /// The `ustring` type and `+u` user dereference.
    Ustring,
    /// The `symstr` type.
    Symstr,
    /// The `char` type.
    Char,
    /// BTF argument names (`$arg*`, `name`, `name->field`).
    BtfArgs,
    /// `(REF_CTR_OFFSET)` on uprobes.
    RefCtrOffset,
    /// `TYPE[N]` arrays.
    Arrays,
    /// Hexadecimal `x8..x64` types.
    HexTypes,
    /// `\IMM` and `\"str"` immediates.
    Immediates,
    /// `%pd`/`%pD` dentry types.
    DentryTypes,
    /// `p:GRP/` with no event name.
    OptionalEventName,
    /// Several probe points appended to one event.
    MultiProbe,
    /// `instances/`: private tracing instances.
    Instances,
    /// `error_log`.
    ErrorLog,
}

impl Feature {
    /// Every feature, for listings.
    pub const ALL: [Feature; 24] = [
        Self::KprobeEvents,
        Self::UprobeEvents,
        Self::DynamicEvents,
        Self::Fprobe,
        Self::Tprobe,
        Self::Eprobe,
        Self::KprobeReturnSuffix,
        Self::UprobeReturnSuffix,
        Self::ArgN,
        Self::ReturnArgN,
        Self::Comm,
        Self::Ustring,
        Self::Symstr,
        Self::Char,
        Self::BtfArgs,
        Self::RefCtrOffset,
        Self::Arrays,
        Self::HexTypes,
        Self::Immediates,
        Self::DentryTypes,
        Self::OptionalEventName,
        Self::MultiProbe,
        Self::Instances,
        Self::ErrorLog,
    ];

    /// What it is, in words.
    pub fn description(self) -> &'static str {
        match self {
            Self::KprobeEvents => "kprobe_events (kernel probes)",
            Self::UprobeEvents => "uprobe_events (user-space probes)",
            Self::DynamicEvents => "dynamic_events",
            Self::Fprobe => "fprobe events (`f:`)",
            Self::Tprobe => "tracepoint probes (`t:`)",
            Self::Eprobe => "event probes (`e:`)",
            Self::KprobeReturnSuffix => "`%return` on kprobes",
            Self::UprobeReturnSuffix => "`%return` on uprobes",
            Self::ArgN => "`$argN` fetch args",
            Self::ReturnArgN => "`$argN` on return probes",
            Self::Comm => "the `$comm` fetch arg",
            Self::Ustring => "the `ustring` type and `+u` user dereference",
            Self::Symstr => "the `symstr` type",
            Self::Char => "the `char` type",
            Self::BtfArgs => "BTF argument names",
            Self::RefCtrOffset => "uprobe reference counters `(ref_ctr_offset)`",
            Self::Arrays => "array types `TYPE[N]`",
            Self::HexTypes => "hexadecimal types `x8..x64`",
            Self::Immediates => "immediate values `\\IMM` and `\\\"str\"`",
            Self::DentryTypes => "the `%pd`/`%pD` types",
            Self::OptionalEventName => "group-only probe names `p:GRP/`",
            Self::MultiProbe => "several probe points in one event",
            Self::Instances => "tracing instances",
            Self::ErrorLog => "error_log",
        }
    }

    /// The mainline release that added it.
    pub fn since(self) -> &'static str {
        match self {
            Self::KprobeEvents => "2.6.33",
            Self::UprobeEvents => "3.5",
            Self::DynamicEvents => "5.0",
            Self::Fprobe | Self::Tprobe | Self::BtfArgs | Self::Char => "6.5",
            Self::Eprobe => "5.15",
            Self::KprobeReturnSuffix | Self::UprobeReturnSuffix => "5.11",
            Self::ArgN | Self::RefCtrOffset => "4.20",
            Self::ReturnArgN => "6.9",
            Self::Comm => "4.x",
            Self::Ustring => "5.5",
            Self::Symstr => "6.2",
            Self::Arrays | Self::HexTypes => "4.17",
            Self::Immediates | Self::MultiProbe => "5.3",
            Self::DentryTypes => "6.10",
            Self::OptionalEventName => "5.18",
            Self::Instances => "3.10",
            Self::ErrorLog => "5.1",
        }
    }

    /// Whether [`since`](Self::since) is inferred from history rather than checked against a
    /// tagged tree (kernel-notes.md marks these "≈").
    pub fn since_is_approximate(self) -> bool {
        matches!(
            self,
            Self::Char
                | Self::ReturnArgN
                | Self::Comm
                | Self::Symstr
                | Self::Arrays
                | Self::HexTypes
                | Self::Immediates
                | Self::MultiProbe
                | Self::DentryTypes
                | Self::OptionalEventName
                | Self::Instances
        )
    }

    /// The kernel config option it also needs, when there is one.
    pub fn config(self) -> Option<&'static str> {
        match self {
            Self::KprobeEvents | Self::KprobeReturnSuffix => Some("CONFIG_KPROBE_EVENTS"),
            Self::UprobeEvents | Self::UprobeReturnSuffix | Self::RefCtrOffset => {
                Some("CONFIG_UPROBE_EVENTS")
            }
            Self::Fprobe => Some("CONFIG_FPROBE_EVENTS"),
            Self::BtfArgs => Some("CONFIG_PROBE_EVENTS_BTF_ARGS"),
            Self::ArgN | Self::ReturnArgN => Some("HAVE_FUNCTION_ARG_ACCESS_API (x86_64, arm64…)"),
            _ => None,
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// The features of one kernel, detected at run time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// The `README` the features were read from, for error messages.
    source: PathBuf,
    readme: ReadmeFeatures,
    kprobe_events_file: bool,
    uprobe_events_file: bool,
    dynamic_events_file: bool,
    instances_dir: bool,
    error_log_file: bool,
}

impl Features {
    /// Reads `README` and checks which files exist under `tracefs`.
    pub fn detect(tracefs: &Tracefs) -> TracefsResult<Self> {
        let readme_path = tracefs.path(README);
        let text = std::fs::read(&readme_path)
            .map_err(|e| TracefsError::io(TracefsOp::Read, &readme_path, e))?;
        let mut features = Self::from_parts(
            parse_readme(&text),
            tracefs.path(KPROBE_EVENTS).exists(),
            tracefs.path(UPROBE_EVENTS).exists(),
            tracefs.path(DYNAMIC_EVENTS).exists(),
            tracefs.path("instances").is_dir(),
            tracefs.path("error_log").exists(),
        );
        features.source = readme_path;
        Ok(features)
    }

    /// From a parsed README and which files exist (for tests and replays).
    pub fn from_parts(
        readme: ReadmeFeatures,
        kprobe_events_file: bool,
        uprobe_events_file: bool,
        dynamic_events_file: bool,
        instances_dir: bool,
        error_log_file: bool,
    ) -> Self {
        Self {
            source: PathBuf::from(README),
            readme,
            kprobe_events_file,
            uprobe_events_file,
            dynamic_events_file,
            instances_dir,
            error_log_file,
        }
    }

    /// What the README said.
    pub fn readme(&self) -> &ReadmeFeatures {
        &self.readme
    }

    /// Whether the kernel has `feature`.
    pub fn has(&self, feature: Feature) -> bool {
        let r = &self.readme;
        match feature {
            Feature::KprobeEvents => self.kprobe_events_file,
            Feature::UprobeEvents => self.uprobe_events_file,
            Feature::DynamicEvents => self.dynamic_events_file,
            Feature::Fprobe => self.dynamic_events_file && r.fprobe,
            Feature::Tprobe => self.dynamic_events_file && r.tprobe,
            Feature::Eprobe => self.dynamic_events_file && r.eprobe,
            Feature::KprobeReturnSuffix => self.kprobe_events_file && r.kprobe_return_suffix,
            Feature::UprobeReturnSuffix => self.uprobe_events_file && r.uprobe_return_suffix,
            Feature::ArgN => r.arg_n,
            Feature::ReturnArgN => r.return_arg_n,
            Feature::Comm => r.comm,
            Feature::Ustring => r.ustring,
            Feature::Symstr => r.symstr,
            Feature::Char => r.char_type,
            Feature::BtfArgs => r.btf_args,
            Feature::RefCtrOffset => self.uprobe_events_file && r.ref_ctr_offset,
            Feature::Arrays => r.arrays,
            Feature::HexTypes => r.hex_types,
            Feature::Immediates => r.immediate,
            Feature::DentryTypes => r.dentry_types,
            Feature::OptionalEventName => r.optional_event_name,
            Feature::MultiProbe => r.multi_probe,
            Feature::Instances => self.instances_dir,
            Feature::ErrorLog => self.error_log_file,
        }
    }

    /// `Ok` when the kernel has `feature`; otherwise an error naming it and the kernel
    /// version that added it. Call before writing anything.
    pub fn require(&self, feature: Feature) -> TracefsResult<()> {
        if self.has(feature) {
            Ok(())
        } else {
            Err(TracefsError::new(
                TracefsOp::CheckFeature,
                &self.source,
                TracefsErrorKind::FeatureMissing(feature),
            ))
        }
    }

    /// [`require`](Self::require) for each feature; the first missing one is the error.
    pub fn require_all(&self, features: &[Feature]) -> TracefsResult<()> {
        features.iter().try_for_each(|f| self.require(*f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_6_18() -> Features {
        let readme = parse_readme(include_bytes!("../../fixtures/readme/6.18.txt"));
        Features::from_parts(readme, false, true, true, true, true)
    }

    #[test]
    fn uprobe_only_kernel() {
        let f = live_6_18();
        assert!(f.has(Feature::UprobeEvents));
        assert!(f.has(Feature::UprobeReturnSuffix));
        assert!(f.has(Feature::Ustring) && f.has(Feature::Char) && f.has(Feature::Arrays));
        assert!(!f.has(Feature::KprobeEvents));
        assert!(!f.has(Feature::KprobeReturnSuffix));
        assert!(!f.has(Feature::Fprobe));
        assert!(!f.has(Feature::BtfArgs));
        assert!(f.require(Feature::RefCtrOffset).is_ok());
    }

    #[test]
    fn missing_feature_error_names_it_and_version() {
        let f = live_6_18();
        let err = f.require(Feature::Fprobe).unwrap_err();
        let text = err.kind().to_string();
        assert!(text.contains("fprobe"), "{text}");
        assert!(text.contains("6.5"), "{text}");
        assert!(text.contains("CONFIG_FPROBE_EVENTS"), "{text}");
        let err = f
            .require_all(&[Feature::UprobeEvents, Feature::KprobeEvents])
            .unwrap_err();
        assert!(matches!(
            err.kind(),
            TracefsErrorKind::FeatureMissing(Feature::KprobeEvents)
        ));
    }

    #[test]
    fn every_feature_has_a_version() {
        for f in Feature::ALL {
            assert!(!f.since().is_empty());
            assert!(!f.description().is_empty());
        }
    }
}
