//! WebAuthn answers with one field replaced by the fuzzer's bytes (SECURITY.md test 52): see
//! `latchkey_server::fuzzing::webauthn_answer` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    latchkey_server::fuzzing::webauthn_answer(data);
});
