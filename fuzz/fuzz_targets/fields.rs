//! A print fmt and a body from one input (split at the first NUL): the template compiles
//! and the body splits by it, by guessing and as syscall arguments, without a panic. The
//! planned steps that `split_with_template` and `fit_template` try first must agree with
//! the general matcher's greedy path (fields, and running out of text inside a value), and
//! a split must exist exactly when the template fits.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (print_fmt, body) = match data.iter().position(|b| *b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &b""[..]),
    };
    let mut format = b"name: e\nID: 1\nformat:\n\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n\nprint fmt: ".to_vec();
    format.extend_from_slice(print_fmt);
    if let Ok(format) = tprobe::parse::parse_event_format(&format) {
        if let Some(template) = tprobe::parse::compile_template(&format) {
            let split = tprobe::parse::split_with_template(&template, body);
            let fit = tprobe::parse::fit_template(&template, body);
            assert_eq!(split.is_some(), fit == tprobe::parse::Fit::Complete);
            if let Err(differ) = tprobe::parse::steps_agree_with_greedy(&template, body) {
                panic!("{differ}");
            }
        }
    }
    let _ = tprobe::parse::split_guessed(body);
    let _ = tprobe::parse::split_syscall_args(&[b"dfd", b"filename"], body);
});
