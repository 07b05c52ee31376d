//! How a `try_` stage retries an item whose call failed: how many
//! attempts, the backoff between them (exponential, capped, with jitter),
//! and which errors are worth another attempt.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// An error as a retry predicate sees it: what the stage function
/// returned, or an [`ItemTimeout`](crate::ItemTimeout) for an attempt that
/// passed the stage's [`item_timeout`](crate::StageConfig::item_timeout).
pub type AttemptError = dyn std::error::Error + Send + Sync + 'static;

type Predicate = Arc<dyn Fn(&AttemptError) -> bool + Send + Sync>;

/// The retry policy of a `try_` stage, set with
/// [`StageConfig::retry`](crate::StageConfig::retry) on a stage built
/// through [`Flow::retrying`](crate::Flow::retrying): an item whose call
/// returns an error is called again, up to [`Retry::attempts`] calls in
/// all, after a pause that doubles from [`backoff`](Self::backoff) up to
/// [`max_backoff`](Self::max_backoff).
///
/// **Jitter.** Each pause is drawn between half its nominal length and
/// all of it ("equal jitter"), so that items which failed together (a
/// server that went down for a moment) do not all come back at once, yet
/// every pause is at least half the nominal backoff. Draws come from a
/// small generator (splitmix64) seeded at random for each run, or from
/// [`seed`](Self::seed) for a reproducible schedule; [`no_jitter`](Self::no_jitter)
/// makes every pause its nominal length.
///
/// **Which errors.** Every error retries unless a predicate
/// ([`retry_if`](Self::retry_if)) says otherwise; it sees the stage
/// function's error, or an [`ItemTimeout`](crate::ItemTimeout) for an
/// attempt that passed the stage's item timeout. A panic is never retried:
/// it fails the run as always.
///
/// **Cancellation.** A pause ends at once when the run is cancelled (or
/// fails, or its deadline passes); no attempt starts after that, and the
/// item ends with the error of its last attempt (which the run's first
/// error outranks).
///
/// `Retry::from(n)` (and so `.retry(3)`, or `retry = 3` in `pipeline!`)
/// is [`Retry::attempts(n)`](Self::attempts) with the default backoff.
///
/// ```
/// use std::time::Duration;
/// use pipeline_core::Retry;
///
/// let r = Retry::attempts(4).backoff(Duration::from_millis(10)).no_jitter();
/// let pauses: Vec<_> = r.delays().collect();
/// assert_eq!(pauses, [10, 20, 40].map(Duration::from_millis));
///
/// // Jittered pauses lie between half the nominal pause and all of it.
/// let r = Retry::attempts(4).backoff(Duration::from_millis(10)).seed(7);
/// let pauses: Vec<_> = r.delays().collect();
/// assert_eq!(pauses, r.delays().collect::<Vec<_>>()); // one seed, one schedule
/// for (p, nominal) in pauses.iter().zip([10, 20, 40]) {
///     let nominal = Duration::from_millis(nominal);
///     assert!(*p >= nominal / 2 && *p <= nominal);
/// }
/// ```
#[derive(Clone)]
pub struct Retry {
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    jitter: bool,
    seed: Option<u64>,
    retry_if: Option<Predicate>,
}

impl Retry {
    /// The pause before the first retry unless set: 50 ms.
    pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(50);
    /// The longest pause unless set: 5 s.
    pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);

    /// Up to `n` calls per item, the first included (`attempts(1)`: no
    /// retry), with the default backoff and jitter; every error retries.
    /// `attempts(0)` is refused when the run starts, as an
    /// [`Error::Config`](crate::Error::Config) naming the stage.
    pub fn attempts(n: u32) -> Self {
        Retry {
            attempts: n,
            backoff: Self::DEFAULT_BACKOFF,
            max_backoff: Self::DEFAULT_MAX_BACKOFF,
            jitter: true,
            seed: None,
            retry_if: None,
        }
    }

    /// Sets the pause before the first retry; each later pause doubles,
    /// up to [`max_backoff`](Self::max_backoff).
    pub fn backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// Sets the longest pause between two attempts.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Pauses exactly the nominal backoff, without jitter.
    pub fn no_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Draws the jitter from a generator seeded with `seed` rather than
    /// at random: with one worker, a run then pauses the same as any other
    /// run with this seed (with several, the items that retry share the
    /// draws in the order they fail).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Retries only the errors for which `f` returns true; the others end
    /// the item at once. `f` sees the stage function's error, or an
    /// [`ItemTimeout`](crate::ItemTimeout) for a timed-out attempt.
    ///
    /// ```
    /// use pipeline_core::{ItemTimeout, Retry};
    ///
    /// // Retry timeouts and I/O errors that may pass, nothing else.
    /// let r = Retry::attempts(3).retry_if(|e| {
    ///     e.is::<ItemTimeout>()
    ///         || e.downcast_ref::<std::io::Error>().is_some_and(|io| {
    ///             io.kind() == std::io::ErrorKind::ConnectionReset
    ///         })
    /// });
    /// # let _ = r;
    /// ```
    pub fn retry_if(mut self, f: impl Fn(&AttemptError) -> bool + Send + Sync + 'static) -> Self {
        self.retry_if = Some(Arc::new(f));
        self
    }

    /// How many calls an item gets at most, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether an attempt that failed with `err` may be followed by
    /// another (attempts left aside): the predicate's answer, or true.
    pub fn should_retry(&self, err: &AttemptError) -> bool {
        self.retry_if.as_ref().is_none_or(|f| f(err))
    }

    /// The pauses an item that fails every attempt takes between them
    /// (one fewer than the attempts): with a [`seed`](Self::seed), those of
    /// the first item of a run that retries; without, a fresh random draw.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + '_ {
        let mut jitter = Jitter::new(self.seed.unwrap_or_else(random_seed), 0);
        (1..self.attempts.max(1)).map(move |k| self.delay(k, &mut jitter))
    }

    /// The pause before retry `k` (1 for the second attempt): the nominal
    /// `backoff × 2^(k-1)`, capped, jittered unless jitter is off.
    pub(crate) fn delay(&self, k: u32, jitter: &mut Jitter) -> Duration {
        let factor = 2u32.saturating_pow(k.saturating_sub(1));
        let nominal = self.backoff.saturating_mul(factor).min(self.max_backoff);
        // A pause beyond u64 nanoseconds (584 years) is not worth a draw.
        let nanos = match u64::try_from(nominal.as_nanos()) {
            Ok(nanos) if self.jitter => nanos,
            _ => return nominal,
        };
        let half = nanos / 2;
        let spread = nanos - half;
        let draw = match spread.checked_add(1) {
            Some(n) => jitter.draw() % n,
            None => jitter.draw(),
        };
        Duration::from_nanos(half + draw)
    }

    /// The seed of a run's jitter: the fixed one, or a random one.
    pub(crate) fn run_seed(&self) -> u64 {
        self.seed.unwrap_or_else(random_seed)
    }

    /// Why these settings cannot run, if they cannot.
    pub(crate) fn invalid(&self) -> Option<&'static str> {
        (self.attempts == 0).then_some("retry needs at least 1 attempt")
    }
}

impl From<u32> for Retry {
    /// [`Retry::attempts(n)`](Retry::attempts).
    fn from(n: u32) -> Self {
        Retry::attempts(n)
    }
}

/// Equal when every setting is, and the predicates are the same one (the
/// same `Arc`, as in clones of one `Retry`) or both absent.
impl PartialEq for Retry {
    fn eq(&self, other: &Self) -> bool {
        let same_predicate = match (&self.retry_if, &other.retry_if) {
            (None, None) => true,
            (Some(a), Some(b)) => std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)),
            _ => false,
        };
        self.attempts == other.attempts
            && self.backoff == other.backoff
            && self.max_backoff == other.max_backoff
            && self.jitter == other.jitter
            && self.seed == other.seed
            && same_predicate
    }
}

impl Eq for Retry {}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("jitter", &self.jitter)
            .field("seed", &self.seed)
            .field("retry_if", &self.retry_if.as_ref().map(|_| ".."))
            .finish()
    }
}

/// A splitmix64 generator: the jitter of one item's pauses, the `stream`-th
/// item of a run to retry under `seed`.
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Jitter(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    fn draw(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A seed from the standard library's per-process random hash keys.
fn random_seed() -> u64 {
    std::hash::RandomState::new().build_hasher().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap() {
        let r = Retry::attempts(6)
            .backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(500))
            .no_jitter();
        let got: Vec<_> = r.delays().collect();
        assert_eq!(got, [100, 200, 400, 500, 500].map(Duration::from_millis));
        assert_eq!(Retry::attempts(1).delays().count(), 0);
        assert_eq!(Retry::attempts(0).delays().count(), 0);
    }

    #[test]
    fn a_huge_schedule_saturates_instead_of_overflowing() {
        let r = Retry::attempts(100)
            .backoff(Duration::MAX)
            .max_backoff(Duration::MAX);
        assert!(r.delays().all(|d| d >= Duration::MAX / 2));
    }

    #[test]
    fn jitter_stays_within_half_to_all_of_the_nominal_pause_and_varies() {
        let r = Retry::attempts(40)
            .backoff(Duration::from_millis(8))
            .max_backoff(Duration::from_millis(8))
            .seed(1);
        let got: Vec<_> = r.delays().collect();
        let nominal = Duration::from_millis(8);
        assert!(got.iter().all(|d| *d >= nominal / 2 && *d <= nominal));
        let distinct: std::collections::HashSet<_> = got.iter().collect();
        assert!(distinct.len() > 30, "{distinct:?}");
        // Another item of the same run draws other pauses.
        let mut other = Jitter::new(1, 1);
        let theirs: Vec<_> = (1..40).map(|k| r.delay(k, &mut other)).collect();
        assert_ne!(got, theirs);
    }

    #[test]
    fn clones_are_equal_and_other_predicates_are_not() {
        let a = Retry::attempts(3).retry_if(|_| true);
        assert_eq!(a, a.clone());
        assert_ne!(a, Retry::attempts(3).retry_if(|_| true));
        assert_ne!(a, Retry::attempts(3));
        assert_eq!(Retry::from(3), Retry::attempts(3));
        assert!(format!("{a:?}").contains("retry_if: Some"));
    }

    #[test]
    fn every_error_retries_unless_the_predicate_declines_it() {
        let timeout = crate::ItemTimeout::new(Duration::from_millis(1));
        let io = std::io::Error::other("gone");
        assert!(Retry::attempts(2).should_retry(&timeout));
        assert!(Retry::attempts(2).should_retry(&io));
        let r = Retry::attempts(2).retry_if(|e| e.is::<crate::ItemTimeout>());
        assert!(r.should_retry(&timeout));
        assert!(!r.should_retry(&io));
    }
}
