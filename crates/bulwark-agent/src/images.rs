//! The image catalog: what program runs for a container's `image`.
//!
//! Bulwark runs no container engine, so an image name is only a key into this catalog. An entry
//! matches an exact `name:tag`, or a bare `name` that matches every tag; an exact match beats a
//! bare one, and among equals the entry added last wins (so `bulwark image add` overrides the
//! file). Image names are compared after normalising Docker Hub spellings
//! (`docker.io/library/busybox:1.36` is `busybox:1.36`) and dropping any `@digest`.
//!
//! An entry is an alias of another image (`image: bulwark/demo`) or a program described the
//! way a container image describes itself:
//! - `exec` (and `execArgs`): the entrypoint, run when the container has no `command`;
//! - `args`: default arguments, replaced by the container's `args`;
//! - `root`: a directory that absolute paths and the working directory resolve under.
//!
//! The container's `command` and `args` then apply exactly as Kubernetes defines them over
//! Docker's ENTRYPOINT and CMD ([`Launch::new`]). An entry with no `exec` and `args: [/bin/sh]`
//! behaves like busybox: the host's shell by default, and any `command` (`sh -c …`) runs as it
//! would on the host, found on `PATH`.
//!
//! Built in: `bulwark/demo` (any tag) runs this binary's `demo` mode ([`crate::demo`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The built-in demo service's image name.
pub const DEMO_IMAGE: &str = "bulwark/demo";

/// How deep aliases may nest before the catalog calls it a loop.
const MAX_ALIAS_DEPTH: usize = 8;

/// A program to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// The running `bulwark` binary itself.
    Bulwark,
    /// A path (absolute, or relative to the working directory; under `root` when there is one).
    Path(PathBuf),
    /// A bare name to look up on `PATH`.
    Search(String),
}

/// One catalog entry as written in a catalog file or added by `bulwark image add`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageEntry {
    /// `name:tag` for one tag, or `name` for every tag.
    pub name: String,
    /// Run whatever this other image runs.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub exec: Option<PathBuf>,
    #[serde(default)]
    pub exec_args: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub root: Option<PathBuf>,
}

impl ImageEntry {
    /// What `bulwark image add NAME --exec PATH` registers.
    pub fn program(name: &str, exec: PathBuf) -> Self {
        Self {
            name: name.to_string(),
            image: None,
            exec: Some(exec),
            exec_args: Vec::new(),
            args: Vec::new(),
            root: None,
        }
    }
}

/// A catalog file: `images: [ … ]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    images: Vec<ImageEntry>,
}

/// An image resolved to what it runs, before the container's command and args apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The entrypoint program, if the image has one.
    pub entrypoint: Option<Program>,
    pub entrypoint_args: Vec<String>,
    pub default_args: Vec<String>,
    pub root: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error(
        "image {image:?} is not in this node's image catalog; add it with \"bulwark image add {name} --exec PATH\" or map it in a catalog file (see examples/images.yaml)"
    )]
    Unknown { image: String, name: String },
    #[error("image {0:?} is an alias loop in the image catalog")]
    AliasLoop(String),
    #[error("invalid image catalog: {0}")]
    BadCatalog(String),
    #[error("catalog entry {name:?}: {why}")]
    BadEntry { name: String, why: String },
    #[error("image {0:?} has no entrypoint and the container gives no command or args")]
    NothingToRun(String),
}

impl ImageError {
    /// The `waiting.reason` a container shows for this error: pulling failed for catalog
    /// misses, the container could not be created for the rest.
    pub fn reason(&self) -> &'static str {
        match self {
            ImageError::Unknown { .. } | ImageError::AliasLoop(_) => "ErrImagePull",
            _ => "CreateContainerError",
        }
    }
}

/// The `waiting.message` while a failed image "pull" is backing off (`ImagePullBackOff`).
pub fn pull_back_off_message(image: &str, error: &ImageError) -> String {
    format!("Back-off pulling image {image:?}: ErrImagePull: {error}")
}

/// Maps image names to programs.
#[derive(Debug, Clone)]
pub struct Catalog {
    entries: Vec<ImageEntry>,
    /// Simulated nodes run nothing, so every image is as good as the demo.
    accept_every_image: bool,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Catalog {
    /// Only the built-in `bulwark/demo`.
    pub fn builtin() -> Self {
        Self {
            entries: Vec::new(),
            accept_every_image: false,
        }
    }

    /// A catalog for simulated nodes, where any image name "runs".
    pub fn accepting_every_image() -> Self {
        Self {
            entries: Vec::new(),
            accept_every_image: true,
        }
    }

    /// The built-in entries plus those of a catalog file.
    pub fn from_yaml(text: &str) -> Result<Self, ImageError> {
        let mut catalog = Self::builtin();
        for entry in Self::entries_from_yaml(text)? {
            catalog.add(entry)?;
        }
        Ok(catalog)
    }

    /// The entries of a catalog file (`images: [...]`), unchecked until added.
    pub fn entries_from_yaml(text: &str) -> Result<Vec<ImageEntry>, ImageError> {
        let file: CatalogFile = serde_yaml::from_str(text)
            .map_err(|error| ImageError::BadCatalog(error.to_string()))?;
        Ok(file.images)
    }

    /// Adds an entry; it wins over earlier entries of the same name.
    pub fn add(&mut self, entry: ImageEntry) -> Result<(), ImageError> {
        let bad = |why: &str| ImageError::BadEntry {
            name: entry.name.clone(),
            why: why.to_string(),
        };
        if entry.name.trim().is_empty() {
            return Err(bad("the name is empty"));
        }
        if entry.image.is_some()
            && (entry.exec.is_some() || !entry.args.is_empty() || entry.root.is_some())
        {
            return Err(bad("an alias (`image`) cannot also set exec, args or root"));
        }
        if entry.image.is_none() && entry.exec.is_none() && entry.args.is_empty() {
            return Err(bad("set `exec`, `args` or `image`"));
        }
        if entry.exec.is_none() && !entry.exec_args.is_empty() {
            return Err(bad("`execArgs` needs `exec`"));
        }
        self.entries.push(entry);
        Ok(())
    }

    /// What `image` runs.
    pub fn resolve(&self, image: &str) -> Result<ResolvedImage, ImageError> {
        let mut current = image.to_string();
        for _ in 0..MAX_ALIAS_DEPTH {
            let reference = ImageReference::parse(&current);
            if reference.name == DEMO_IMAGE && self.find(&reference).is_none() {
                return Ok(demo());
            }
            let Some(entry) = self.find(&reference) else {
                if self.accept_every_image {
                    return Ok(demo());
                }
                return Err(ImageError::Unknown {
                    image: image.to_string(),
                    name: ImageReference::parse(image).to_string(),
                });
            };
            match &entry.image {
                Some(target) => current = target.clone(),
                None => return Ok(resolved(entry)),
            }
        }
        Err(ImageError::AliasLoop(image.to_string()))
    }

    fn find(&self, reference: &ImageReference) -> Option<&ImageEntry> {
        let mut by_specificity: BTreeMap<bool, &ImageEntry> = BTreeMap::new();
        for entry in &self.entries {
            let pattern = ImageReference::parse_pattern(&entry.name);
            if pattern.name != reference.name {
                continue;
            }
            match &pattern.tag {
                Some(tag) if *tag == reference.tag => by_specificity.insert(true, entry),
                None => by_specificity.insert(false, entry),
                Some(_) => None,
            };
        }
        by_specificity.into_values().next_back()
    }
}

fn demo() -> ResolvedImage {
    ResolvedImage {
        entrypoint: Some(Program::Bulwark),
        entrypoint_args: vec!["demo".to_string()],
        default_args: Vec::new(),
        root: None,
    }
}

fn resolved(entry: &ImageEntry) -> ResolvedImage {
    ResolvedImage {
        entrypoint: entry.exec.clone().map(Program::Path),
        entrypoint_args: entry.exec_args.clone(),
        default_args: entry.args.clone(),
        root: entry.root.clone(),
    }
}

/// An image name split into repository name and tag, Docker Hub spellings normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImageReference {
    name: String,
    tag: String,
}

/// A catalog pattern: a name, and a tag or none for "any tag".
struct Pattern {
    name: String,
    tag: Option<String>,
}

impl ImageReference {
    fn parse(image: &str) -> Self {
        let pattern = Self::parse_pattern(image);
        Self {
            name: pattern.name,
            tag: pattern.tag.unwrap_or_else(|| "latest".to_string()),
        }
    }

    fn parse_pattern(image: &str) -> Pattern {
        let without_digest = image.split('@').next().unwrap_or_default().trim();
        let last_slash = without_digest.rfind('/').map_or(0, |index| index + 1);
        let (name, tag) = match without_digest[last_slash..].rfind(':') {
            Some(colon) => {
                let colon = last_slash + colon;
                (
                    &without_digest[..colon],
                    Some(without_digest[colon + 1..].to_string()),
                )
            }
            None => (without_digest, None),
        };
        Pattern {
            name: normalise_name(name),
            tag,
        }
    }
}

impl std::fmt::Display for ImageReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

fn normalise_name(name: &str) -> String {
    let name = ["docker.io/", "index.docker.io/", "registry-1.docker.io/"]
        .iter()
        .find_map(|registry| name.strip_prefix(registry))
        .unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name).to_string()
}

/// What to execute for a container: the program and its arguments (after `argv[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: Program,
    /// `argv[0]` as the program sees it.
    pub arg0: String,
    pub args: Vec<String>,
    pub root: Option<PathBuf>,
}

impl Launch {
    /// Applies a container's (already expanded) `command` and `args` to its image:
    /// - `command` given: it replaces the entrypoint, and `args` (if any) follow it;
    /// - only `args` given: the entrypoint runs with them instead of the default args;
    /// - neither: the entrypoint runs with the default args.
    pub fn new(
        image: &str,
        resolved: &ResolvedImage,
        command: &[String],
        args: &[String],
    ) -> Result<Launch, ImageError> {
        let root = resolved.root.clone();
        if let Some((first, rest)) = command.split_first() {
            return Ok(Launch {
                program: program_for(first),
                arg0: first.clone(),
                args: rest.iter().chain(args).cloned().collect(),
                root,
            });
        }
        let chosen_args = if args.is_empty() {
            &resolved.default_args
        } else {
            args
        };
        if let Some(program) = &resolved.entrypoint {
            let arg0 = match program {
                Program::Bulwark => "bulwark".to_string(),
                Program::Path(path) => path.display().to_string(),
                Program::Search(name) => name.clone(),
            };
            return Ok(Launch {
                program: program.clone(),
                arg0,
                args: resolved
                    .entrypoint_args
                    .iter()
                    .chain(chosen_args)
                    .cloned()
                    .collect(),
                root,
            });
        }
        let (first, rest) = chosen_args
            .split_first()
            .ok_or_else(|| ImageError::NothingToRun(image.to_string()))?;
        Ok(Launch {
            program: program_for(first),
            arg0: first.clone(),
            args: rest.to_vec(),
            root,
        })
    }
}

fn program_for(argv0: &str) -> Program {
    if argv0.contains('/') {
        Program::Path(PathBuf::from(argv0))
    } else {
        Program::Search(argv0.to_string())
    }
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
