//! scripts/build-kernel-object and scripts/check-kernel-object.
//!
//! - The model's kernel object, generic and with the thunks a distro .config asks for
//!   (RETHUNK + IBT + RETPOLINE), builds and passes the checker (with --kconfig, the
//!   checker also proves the mitigations reached every function).
//! - The checker is able to fail: objects with SSE use, an unknown call, a GOT
//!   relocation, unwind tables, a Rust panic path, and the generic object checked
//!   against the thunk .config are all refused, each for the right reason.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use foliomap_abi_tests::repo_root;

const THUNK_CONFIG: &str = "\
# A distro-like x86-64 kernel .config fragment (mitigations on)
CONFIG_64BIT=y
CONFIG_X86_64=y
CONFIG_MITIGATION_RETHUNK=y
CONFIG_X86_KERNEL_IBT=y
CONFIG_MITIGATION_RETPOLINE=y
";

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("kernel-object")
        .join(name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn build(kconfig: Option<&Path>) -> PathBuf {
    let mut cmd = Command::new(repo_root().join("scripts/build-kernel-object"));
    if let Some(k) = kconfig {
        cmd.arg("--kconfig").arg(k);
    }
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "build-kernel-object failed:\n{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("no output");
    let obj = PathBuf::from(last);
    assert!(
        obj.is_absolute() && obj.is_file(),
        "last line is not an object: {last}"
    );
    obj
}

fn check(obj: &Path, kconfig: Option<&Path>) -> Output {
    let mut cmd = Command::new(repo_root().join("scripts/check-kernel-object"));
    if let Some(k) = kconfig {
        cmd.arg("--kconfig").arg(k);
    }
    run(cmd.arg(obj))
}

fn assert_passes(obj: &Path, kconfig: Option<&Path>) -> String {
    let out = check(obj, kconfig);
    assert!(
        out.status.success(),
        "check-kernel-object refused {}:\n{}",
        obj.display(),
        text(&out)
    );
    let t = text(&out);
    assert!(t.contains("size"), "no size printed:\n{t}");
    t
}

fn assert_refused(obj: &Path, kconfig: Option<&Path>, why: &str) {
    let out = check(obj, kconfig);
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a failed check for {}:\n{t}",
        obj.display()
    );
    assert!(
        t.contains(why),
        "{} refused, but not for \"{why}\":\n{t}",
        obj.display()
    );
}

/// Compiles a C fixture from bad-objects/ the way kernel C is compiled (plus `extra`).
fn cc_fixture(name: &str, extra: &[&str]) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("bad-objects")
        .join(name);
    let obj = scratch("fixtures").join(name).with_extension("o");
    let out = run(Command::new("cc")
        .args([
            "-std=gnu11",
            "-O2",
            "-c",
            "-fno-pic",
            "-mcmodel=kernel",
            "-mno-red-zone",
            "-fno-asynchronous-unwind-tables",
        ])
        .args(extra)
        .arg(&src)
        .arg("-o")
        .arg(&obj));
    assert!(out.status.success(), "cc {name}:\n{}", text(&out));
    obj
}

#[test]
fn generic_object_builds_and_passes() {
    let obj = build(None);
    let report = assert_passes(&obj, None);
    assert!(report.contains("fm_"), "{report}");
    eprintln!("{report}");
}

#[test]
fn thunk_object_builds_and_passes_with_its_kconfig() {
    let dir = scratch("thunks");
    let kconfig = dir.join(".config");
    std::fs::write(&kconfig, THUNK_CONFIG).unwrap();
    let obj = build(Some(&kconfig));
    let report = assert_passes(&obj, Some(&kconfig));
    eprintln!("{report}");
    // The generic object lacks the mitigations: the --kconfig checks must see that.
    let generic = build(None);
    assert_refused(&generic, Some(&kconfig), "plain ret");
    assert_refused(&generic, Some(&kconfig), "endbr64");
}

#[test]
fn checker_accepts_a_good_c_object() {
    assert_passes(
        &cc_fixture("good.c", &["-mno-sse", "-mno-mmx", "-mno-sse2"]),
        None,
    );
}

#[test]
fn checker_refuses_unwind_tables() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bad-objects/good.c");
    let obj = scratch("fixtures").join("eh_frame.o");
    let out = run(Command::new("cc")
        .args([
            "-O2",
            "-c",
            "-fno-pic",
            "-mcmodel=kernel",
            "-mno-red-zone",
            "-mno-sse",
        ])
        .arg("-fasynchronous-unwind-tables")
        .arg(&src)
        .arg("-o")
        .arg(&obj));
    assert!(out.status.success(), "cc good.c:\n{}", text(&out));
    assert_refused(&obj, None, "unwind tables present");
}

#[test]
fn checker_refuses_sse() {
    assert_refused(&cc_fixture("sse.c", &[]), None, "SIMD/FPU registers");
}

#[test]
fn checker_refuses_unknown_undefined_symbol() {
    let obj = cc_fixture("unknown_call.c", &["-mno-sse", "-mno-mmx", "-mno-sse2"]);
    assert_refused(&obj, None, "printk");
}

#[test]
fn checker_refuses_got_relocations() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bad-objects/got.c");
    let obj = scratch("fixtures").join("got.o");
    let out = run(Command::new("cc")
        .args(["-O2", "-c", "-fPIC"])
        .arg(&src)
        .arg("-o")
        .arg(&obj));
    assert!(out.status.success(), "cc got.c:\n{}", text(&out));
    assert_refused(&obj, None, "R_X86_64_REX_GOTPCRELX");
}

#[test]
fn checker_refuses_a_rust_panic_path() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bad-objects/panic.rs");
    let obj = scratch("fixtures").join("panic.o");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = run(Command::new(rustc)
        .current_dir(repo_root())
        .args([
            "--edition=2021",
            "--crate-type=lib",
            "--emit=obj",
            "-Cpanic=abort",
            "-Copt-level=2",
        ])
        .args([
            "-Ccode-model=kernel",
            "-Crelocation-model=static",
            "-Cno-redzone=yes",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&obj));
    assert!(out.status.success(), "rustc panic.rs:\n{}", text(&out));
    assert_refused(&obj, None, "panic symbols present");
    assert_refused(&obj, None, "panic_bounds_check");
}

#[test]
fn scripts_reject_bad_usage() {
    let out =
        run(Command::new(repo_root().join("scripts/check-kernel-object")).arg("/nonexistent.o"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no such readable file"));
    let out = run(
        Command::new(repo_root().join("scripts/build-kernel-object"))
            .args(["--kconfig", "/nonexistent/.config"]),
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no such readable file"),
        "{}",
        text(&out)
    );
}

/// scripts/lib/relax-gotpcrel.py (run by build-kernel-object): the checker refuses GOT
/// references; after the rewrite the relocations are allowed and, linked into a program,
/// the rewritten call, tail jmp and mov still do what they did.
#[test]
fn got_relaxation_rewrites_call_jmp_and_mov_correctly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bad-objects");
    let work = scratch("relax");
    let obj = work.join("got_forms.o");
    let out = run(Command::new("cc")
        .args([
            "-O2",
            "-c",
            "-fpic",
            "-fno-plt",
            "-fno-builtin",
            "-mno-red-zone",
        ])
        .arg("-fno-asynchronous-unwind-tables")
        .arg(dir.join("got_forms.c"))
        .arg("-o")
        .arg(&obj));
    assert!(out.status.success(), "cc got_forms.c:\n{}", text(&out));
    assert_refused(&obj, None, "GOTPCRELX");

    let out = run(Command::new("python3")
        .arg(repo_root().join("scripts/lib/relax-gotpcrel.py"))
        .arg(&obj));
    assert!(out.status.success(), "relax-gotpcrel.py:\n{}", text(&out));
    let log = text(&out);
    for form in [
        "call through the GOT to memcpy",
        "jmp through the GOT to memcpy",
        "mov through the GOT to fm_global",
    ] {
        assert!(log.contains(form), "no \"{form}\" rewrite:\n{log}");
    }
    // Only allowed relocation types remain (fm_global is not on the symbol allow-list).
    let checked = check(&obj, None);
    let t = text(&checked);
    assert!(!t.contains("relocation types outside"), "{t}");

    let exe = work.join("got_forms");
    let out = run(Command::new("cc")
        .args(["-no-pie", "-fno-builtin"])
        .arg(dir.join("got_forms_main.c"))
        .arg(&obj)
        .arg("-o")
        .arg(&exe));
    assert!(out.status.success(), "linking got_forms:\n{}", text(&out));
    let out = run(&mut Command::new(&exe));
    assert!(
        out.status.success(),
        "relaxed code misbehaves:\n{}",
        text(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}
