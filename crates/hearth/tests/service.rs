//! `hearth service install|status|uninstall` through the real binary, with the unit
//! directory in a temp `XDG_CONFIG_HOME`: once where systemd is missing (the unit is
//! still written and the manual command printed), once with a recording stand-in for
//! `systemctl` (the calls that enable, query and disable the service).

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// `hearth service ARGS` with XDG_CONFIG_HOME under the env's home and `systemctl`
/// replaced by `systemctl` (a path).
async fn service(env: &TestEnv, systemctl: &Path, args: &[&str]) -> Output {
    let mut cmd = env.command("openai");
    cmd.env("XDG_CONFIG_HOME", env.home.path().join("xdg"))
        .env("HEARTH_SYSTEMCTL", systemctl)
        .arg("service")
        .args(args);
    cmd.output().await.expect("hearth ran")
}

fn unit_path(env: &TestEnv) -> PathBuf {
    env.home.path().join("xdg/systemd/user/hearth.service")
}

fn canonical(path: &Path) -> String {
    path.canonicalize().unwrap().to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn without_systemd_the_unit_is_written_and_the_manual_command_printed() {
    let env = TestEnv::start(vec![]).await;
    let missing = env.home.path().join("no-such-systemctl");

    let install = service(&env, &missing, &["install", "--listen", "127.0.0.1:9999"]).await;
    assert!(install.status.success(), "{}", stderr(&install));
    let said = stderr(&install);
    assert!(said.contains("systemd is not available here"), "{said}");
    assert!(said.contains("serve --listen 127.0.0.1:9999"), "{said}");

    let unit = std::fs::read_to_string(unit_path(&env)).expect("unit file written");
    let binary = canonical(Path::new(env!("CARGO_BIN_EXE_hearth")));
    let home = canonical(env.home.path());
    assert!(
        unit.contains(&format!(
            "ExecStart=\"{binary}\" \"serve\" \"--listen\" \"127.0.0.1:9999\"\n"
        )),
        "{unit}"
    );
    assert!(
        unit.contains(&format!("Environment=\"HEARTH_HOME={home}\"\n")),
        "{unit}"
    );
    assert!(unit.contains("Restart=on-failure\n"), "{unit}");
    assert!(unit.contains("WantedBy=default.target\n"), "{unit}");

    let status = service(&env, &missing, &["status"]).await;
    assert!(status.status.success(), "{}", stderr(&status));
    let shown = stdout(&status);
    assert!(shown.contains("(installed)"), "{shown}");
    assert!(shown.contains("systemd: not available"), "{shown}");

    let uninstall = service(&env, &missing, &["uninstall"]).await;
    assert!(uninstall.status.success(), "{}", stderr(&uninstall));
    assert!(!unit_path(&env).exists());
    let status = service(&env, &missing, &["status"]).await;
    assert!(
        stdout(&status).contains("(not installed)"),
        "{}",
        stdout(&status)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_systemd_the_service_is_enabled_queried_and_disabled() {
    let env = TestEnv::start(vec![]).await;
    let log = env.home.path().join("systemctl.log");
    let recorder = env.home.path().join("systemctl");
    std::fs::write(
        &recorder,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$2\" in\n  is-enabled) echo enabled;;\n  is-active) echo active;;\nesac\nexit 0\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&recorder, std::fs::Permissions::from_mode(0o755)).unwrap();

    let install = service(&env, &recorder, &["install"]).await;
    assert!(install.status.success(), "{}", stderr(&install));
    assert!(
        stderr(&install).contains("enabled and started"),
        "{}",
        stderr(&install)
    );
    let unit = std::fs::read_to_string(unit_path(&env)).expect("unit file written");
    assert!(unit.contains("\"serve\"\n"), "{unit}");

    let status = service(&env, &recorder, &["status"]).await;
    let shown = stdout(&status);
    assert!(
        shown.contains("enabled: enabled") && shown.contains("active: active"),
        "{shown}"
    );

    let uninstall = service(&env, &recorder, &["uninstall"]).await;
    assert!(uninstall.status.success(), "{}", stderr(&uninstall));
    assert!(!unit_path(&env).exists());

    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls
        .lines()
        .filter(|line| *line != "--user show-environment")
        .collect();
    assert_eq!(
        calls,
        [
            "--user daemon-reload",
            "--user enable --now hearth.service",
            "--user is-enabled hearth.service",
            "--user is-active hearth.service",
            "--user disable --now hearth.service",
            "--user daemon-reload",
        ]
    );
}
