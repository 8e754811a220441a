//! Real kprobe/kretprobe captures from Debian's 6.1 and 6.12 kernels, made by the VM
//! harness (`tests/vm/run --save-captures`; each directory's NOTE.md says how), replayed
//! and compared with the traced program's truth (`truth.tsv`: dfd, return value, path).

use crate::util::json_lines;
use crate::util::repo_root;
use crate::util::TprobeCmd;

fn replay_capture(kernel: &str) {
    let dir = repo_root().join("tests/vm/captures").join(kernel);
    let out = TprobeCmd::new()
        .args(["replay", "--json", "--events-dir"])
        .arg(dir.join("events"))
        .arg(dir.join("trace_pipe.txt"))
        .status(0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0 unparsed, 0 guessed"),
        "{kernel}: {stderr}"
    );
    let events = json_lines(&out.stdout);
    let truth = std::fs::read_to_string(dir.join("truth.tsv")).unwrap();
    let truth: Vec<Vec<&str>> = truth.lines().map(|l| l.split('\t').collect()).collect();
    let opens: Vec<_> = events.iter().filter(|e| e["event"] == "open").collect();
    let rets: Vec<_> = events.iter().filter(|e| e["event"] == "ret").collect();
    assert_eq!(opens.len(), truth.len(), "{kernel}");
    assert_eq!(rets.len(), truth.len(), "{kernel}");
    for ((open, ret), want) in opens.iter().zip(&rets).zip(&truth) {
        assert_eq!(
            open["fields"]["dfd"].to_string(),
            want[0],
            "{kernel}: {open}"
        );
        assert_eq!(ret["fields"]["ret"].to_string(), want[1], "{kernel}: {ret}");
        assert_eq!(open["fields"]["path"], want[2], "{kernel}: {open}");
        // kprobes print the probed symbol, kretprobes `caller+off/size <- func`.
        let ip = open["fields"]["__probe_ip"].as_str().unwrap();
        assert!(ip.starts_with("do_sys_openat2+0x0/"), "{kernel}: {ip}");
        assert_eq!(ret["fields"]["__probe_func"], "do_sys_openat2", "{kernel}");
    }
}

#[test]
fn kprobe_capture_from_debian_6_1() {
    replay_capture("6.1");
}

#[test]
fn kprobe_capture_from_debian_6_12() {
    replay_capture("6.12");
}
