//! The injectable source of randomness. Production uses the operating system's CSPRNG
//! (`getrandom`), as NIST SP 800-63B-4 §3.2.12 and ASVS 5.0 V11.5.1 require for every
//! secret, seed and token.

pub trait SecureRandom: Send + Sync + 'static {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // The OS RNG failing means the host cannot produce secrets at all; continuing with
        // a zeroed buffer would be far worse than stopping, so this is the one deliberate
        // abort in the crate.
        #[allow(clippy::panic)]
        if let Err(e) = getrandom::getrandom(buf) {
            panic!("operating system RNG unavailable: {e}");
        }
    }
}

/// `N` random bytes from `rng`.
pub fn bytes<const N: usize>(rng: &dyn SecureRandom) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill(&mut b);
    b
}
