use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

const EXAMPLE: &str = include_str!("../../../examples/images.yaml");

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

fn launch(catalog: &Catalog, image: &str, command: &[&str], args: &[&str]) -> Launch {
    let resolved = catalog.resolve(image).expect("image in catalog");
    Launch::new(image, &resolved, &strings(command), &strings(args)).expect("something to run")
}

#[test]
fn example_catalog_runs_the_seed_images_as_the_demo_service() {
    let catalog = Catalog::from_yaml(EXAMPLE).expect("example catalog parses");
    for image in [
        "payment:v2.1",
        "recommender:v3.2",
        "my-app:v1.0",
        "inventory",
        "api-server:latest",
        "bulwark/demo:any",
        "docker.io/library/payment:v9",
    ] {
        let run = launch(&catalog, image, &[], &[]);
        assert_eq!(run.program, Program::Bulwark, "{image}");
        assert_eq!(run.args, ["demo"], "{image}");
    }
}

#[test]
fn busybox_runs_host_commands_like_a_shell_image() {
    let catalog = Catalog::from_yaml(EXAMPLE).expect("example catalog parses");
    let shell = launch(&catalog, "busybox:1.36", &["sh", "-c", "echo hi"], &[]);
    assert_eq!(shell.program, Program::Search("sh".into()));
    assert_eq!(shell.args, ["-c", "echo hi"]);

    let default = launch(&catalog, "alpine", &[], &[]);
    assert_eq!(default.program, Program::Path(PathBuf::from("/bin/sh")));
    assert!(default.args.is_empty());

    let args_only = launch(
        &catalog,
        "docker.io/library/busybox",
        &[],
        &["sleep", "3600"],
    );
    assert_eq!(args_only.program, Program::Search("sleep".into()));
    assert_eq!(args_only.args, ["3600"]);
}

#[test]
fn command_and_args_apply_over_entrypoint_and_defaults() {
    let mut catalog = Catalog::builtin();
    catalog
        .add(ImageEntry {
            exec_args: strings(&["serve"]),
            args: strings(&["--port", "80"]),
            root: Some(PathBuf::from("/srv/tool")),
            ..ImageEntry::program("tool", PathBuf::from("/opt/tool"))
        })
        .expect("valid entry");
    let neither = launch(&catalog, "tool:v1", &[], &[]);
    assert_eq!(neither.program, Program::Path("/opt/tool".into()));
    assert_eq!(neither.args, ["serve", "--port", "80"]);
    assert_eq!(neither.root, Some(PathBuf::from("/srv/tool")));

    let args_only = launch(&catalog, "tool:v1", &[], &["--port", "81"]);
    assert_eq!(args_only.args, ["serve", "--port", "81"]);

    let command = launch(&catalog, "tool:v1", &["/bin/other", "x"], &["y"]);
    assert_eq!(command.program, Program::Path("/bin/other".into()));
    assert_eq!(
        (command.arg0.as_str(), command.args.clone()),
        ("/bin/other", strings(&["x", "y"]))
    );

    let command_only = launch(&catalog, "tool:v1", &["other"], &[]);
    assert!(
        command_only.args.is_empty(),
        "default args go with the entrypoint"
    );
}

#[test]
fn exact_tags_beat_bare_names_and_later_entries_win() {
    let mut catalog = Catalog::builtin();
    catalog
        .add(ImageEntry::program("web", "/bin/any".into()))
        .expect("entry");
    catalog
        .add(ImageEntry::program("web:v2", "/bin/v2".into()))
        .expect("entry");
    catalog
        .add(ImageEntry::program("web", "/bin/any-newer".into()))
        .expect("entry");
    let program = |image: &str| catalog.resolve(image).expect("known").entrypoint;
    assert_eq!(program("web:v2"), Some(Program::Path("/bin/v2".into())));
    assert_eq!(
        program("web:v1"),
        Some(Program::Path("/bin/any-newer".into()))
    );
    assert_eq!(program("web"), Some(Program::Path("/bin/any-newer".into())));
    assert_eq!(
        program("web@sha256:abc"),
        Some(Program::Path("/bin/any-newer".into()))
    );
}

#[test]
fn unknown_image_says_how_to_add_it() {
    let catalog = Catalog::builtin();
    let error = catalog.resolve("docker.io/library/nginx:1.27").unwrap_err();
    assert_eq!(error.reason(), "ErrImagePull");
    assert_eq!(
        error.to_string(),
        "image \"docker.io/library/nginx:1.27\" is not in this node's image catalog; add it with \"bulwark image add nginx:1.27 --exec PATH\" or map it in a catalog file (see examples/images.yaml)"
    );
    assert!(
        pull_back_off_message("nginx:1.27", &error)
            .starts_with("Back-off pulling image \"nginx:1.27\": ErrImagePull: image")
    );
}

#[test]
fn registries_and_ports_are_not_mistaken_for_tags() {
    let mut catalog = Catalog::builtin();
    catalog
        .add(ImageEntry::program(
            "localhost:5000/team/app",
            "/bin/app".into(),
        ))
        .expect("entry");
    assert!(catalog.resolve("localhost:5000/team/app:v3").is_ok());
    assert!(catalog.resolve("localhost:5000/team/app").is_ok());
    assert!(catalog.resolve("localhost:5001/team/app").is_err());
}

#[test]
fn alias_loops_and_bad_entries_are_errors() {
    let catalog = Catalog::from_yaml("images:\n- {name: a, image: b}\n- {name: b, image: a}\n")
        .expect("parses");
    assert_eq!(catalog.resolve("a"), Err(ImageError::AliasLoop("a".into())));
    for bad in [
        "images:\n- {name: x}\n",
        "images:\n- {name: '', exec: /bin/x}\n",
        "images:\n- {name: x, image: y, exec: /bin/x}\n",
        "images:\n- {name: x, execArgs: [a], args: [b]}\n",
        "images:\n- {name: x, exec: /bin/x, colour: red}\n",
        "pictures: []\n",
        "images: 3\n",
    ] {
        assert!(Catalog::from_yaml(bad).is_err(), "{bad}");
    }
    let error = Catalog::builtin().resolve("bulwark/demo").map(|image| {
        Launch::new(
            "x",
            &ResolvedImage {
                entrypoint: None,
                ..image
            },
            &[],
            &[],
        )
    });
    assert!(matches!(error, Ok(Err(ImageError::NothingToRun(_)))));
}

proptest! {
    #[test]
    fn any_image_name_resolves_or_errors_without_panicking(image in "\\PC{0,40}") {
        let catalog = Catalog::from_yaml(EXAMPLE).expect("example catalog parses");
        if let Ok(resolved) = catalog.resolve(&image) {
            let _ = Launch::new(&image, &resolved, &[], &[]);
        }
    }

    #[test]
    fn any_catalog_text_parses_or_errors_without_panicking(text in "\\PC{0,200}") {
        let _ = Catalog::from_yaml(&text);
    }
}
