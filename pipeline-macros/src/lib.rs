//! The `pipeline!` macro of the `pipeline` crate: declare named stages,
//! their widths and buffers, and how they connect; get the typed builder
//! calls of `pipeline-core`, checked at compile time.
//!
//! Use it through the facade: `use pipeline::pipeline;`. The macro expands
//! only to calls of the public builder API (`::pipeline::Pipeline`,
//! `::pipeline::Flow`, `::pipeline::StageConfig`, ...) and, for the
//! reusable form, data and an `impl ::pipeline::Declared` whose methods
//! are written once in the runtime, so anything it declares can also be
//! written by hand.

mod ast;
mod check;
mod expand;
mod parse;
mod suggest;

use proc_macro::TokenStream;

/// The README section "Declaring a pipeline", whose examples run as tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/declaring.md")]
#[allow(dead_code)]
struct DeclaringAPipeline;

/// Declares a pipeline: named stages, read top to bottom.
///
/// ```
/// use pipeline::pipeline;
///
/// let squares = pipeline! {
///     gen: source [2u64, 3];
///     sq:  map |n: u64| n * n [workers = 2, ordered];
///     out: sink collect();
/// }
/// .run()?;
/// assert_eq!(squares, [4, 9]);
/// # Ok::<(), pipeline::Error>(())
/// ```
///
/// Each line is a stage: `name: kind what [options];`. A stage reads the
/// stage written above it, unless it names its input with `from`. The name
/// is the stage's row in the stats and is in every error the stage raises.
///
/// # Grammar
///
/// ```text
/// pipeline := policy? stage+                                  -- expression form
///           | doc* vis? Name "(" args? ")" ("->" Type)?       -- reusable form
///             "{" policy? stage+ "}"
/// args     := ident ":" Type ("," ident ":" Type)* ","?
/// policy   := "policy" "=" ("continue" | "fail_fast" | expr) ";"
/// stage    := doc* name ":" kind tail ";"
/// tail     := ("from" name)? options?     -- either order
/// kind     := "source" mode? expr
///           | op expr                     -- expr: a path or a closure
///           | "merge" name ("," name)+
///           | "sink" sink
/// mode     := "iter" | "stream" | "blocking" | "async"
/// op       := "map" | "try_map" | "filter" | "filter_map" | "try_filter_map"
///           | "flat_map" | "try_flat_map" | "inspect" | "then" | "try_then"
/// sink     := "collect" ("::<" Type ">")? "()" | "first()" | "take(" expr ")"
///           | "for_each(" expr ")" | "fold(" expr "," expr ")"
///           | "stream()" | "iter()"
/// options  := "[" option ("," option)* "]"
/// option   := ("workers" | "buffer" | "window" | "batch"
///             | "item_timeout" | "retry") "=" expr
///           | "ordered" | "unordered" | "blocking" | "adaptive"
/// ```
///
/// Every `expr` is ordinary Rust, evaluated when the pipeline is declared
/// (the expression form) or built (the reusable form): widths can come
/// from a CLI flag (`workers = jobs`, `workers = 2 * pipeline::threads()`).
///
/// | kind | builder call | the function or value |
/// |---|---|---|
/// | `source xs` / `source iter xs` | `from_iter` | anything `IntoIterator` |
/// | `source stream s` | `from_stream` | a `futures::Stream` |
/// | `source blocking f` | `from_blocking` | `FnOnce(&mut Emitter<T>)`, run off the executor |
/// | `source async f` | `from_async` | `FnOnce(AsyncEmitter<T>) -> impl Future<Output = ()>` |
/// | `map f` / `try_map f` | `map` / `try_map` | `Fn(T) -> U` / `Fn(T) -> Result<U, E>` |
/// | `filter f` / `filter_map f` | `filter` / `filter_map` | `Fn(&T) -> bool` / `Fn(T) -> Option<U>` |
/// | `try_filter_map f` | `try_filter_map` | `Fn(T) -> Result<Option<U>, E>` |
/// | `flat_map f` / `try_flat_map f` | `flat_map` / `try_flat_map` | `Fn(T) -> impl IntoIterator` (or its `Result`) |
/// | `inspect f` | `inspect` | `Fn(&T)` |
/// | `then f` / `try_then f` | `then` / `try_then` | async: `Fn(T) -> impl Future` (`async fn`, async closure) |
/// | `merge a, b` | `Pipeline::merge` | fan-in of the named stages |
/// | `sink ...` | `collect`, `first`, `take`, `for_each`, `fold`, `named_stream`, `named_iter` | ends the pipeline |
///
/// | option | applies to | meaning |
/// |---|---|---|
/// | `workers = n` | stages | `n` workers read the input at once (fan-out width) |
/// | `buffer = n` | sources, stages, merges | capacity of the stage's output channel, in items |
/// | `ordered` / `window = n` | stages | keep input order; `window` bounds the reorder buffer |
/// | `unordered` | stages | the default, written out |
/// | `blocking` | sync stages | run the function on the blocking thread pool |
/// | `batch = n` | sources, stages, merges | send items downstream in packets of up to `n` (`batch = 1`: every item alone) |
/// | `adaptive` | sources, stages, merges | the default: packets grow only while the next stage is busy, counted in the buffer (see `StageConfig::adaptive`) |
/// | `item_timeout = d` | async and `blocking` stages | a `Duration`: an item whose call takes longer is the stage's `ItemTimeout` error (see `StageConfig::item_timeout`) |
/// | `retry = r` | `try_` stages | a `Retry`, or a number of attempts (`retry = 3`): failed items are called again after a backoff; the stage is built through `Flow::retrying`, so its items must be `Clone` |
///
/// Stage functions must be `Send + Sync + 'static`: closures that use a
/// local take it by `move`. A stage expression that ends in `[...]` is read
/// as options; put such an expression in parentheses.
///
/// # Fan-out and fan-in
///
/// Two stages that name the same input share its channel: each item goes
/// to one of them (the article's two `sq` readers). `merge` joins streams
/// of one type.
///
/// ```
/// use pipeline::pipeline;
///
/// fn sq(n: u64) -> u64 {
///     n * n
/// }
///
/// let mut all = pipeline! {
///     gen:  source 1..=10u64;
///     sq1:  map sq from gen;
///     sq2:  map sq from gen;
///     both: merge sq1, sq2;
///     out:  sink collect();
/// }
/// .run()?;
/// all.sort();
/// assert_eq!(all, (1..=10).map(sq).collect::<Vec<_>>());
/// # Ok::<(), pipeline::Error>(())
/// ```
///
/// # Sources, async stages, errors
///
/// ```
/// use pipeline::{pipeline, AsyncEmitter, Emitter, Error};
///
/// // A blocking producer, an async stage, and a fallible one that fails
/// // fast: the first error ends the run and names its stage.
/// let err = pipeline! {
///     walk:  source blocking |em: &mut Emitter<u32>| {
///         for i in 0..100 {
///             if em.emit(i).is_err() {
///                 return; // cancelled
///             }
///         }
///     };
///     dbl:   then |n: u32| async move { n * 2 } [workers = 4];
///     check: try_map |n: u32| if n == 42 { Err("42 is not allowed") } else { Ok(n) };
///     out:   sink for_each(|_| {});
/// }
/// .run()
/// .unwrap_err();
/// assert_eq!(err.stage_name(), Some("check"));
///
/// // Under `policy = continue;` errors travel as items: none is dropped.
/// let items: Vec<Result<u32, Error>> = pipeline! {
///     policy = continue;
///     gen:   source async |mut em: AsyncEmitter<u32>| async move {
///         for i in 0..6 {
///             if em.send(i).await.is_err() {
///                 return;
///             }
///         }
///     };
///     check: try_map |n: u32| if n % 3 == 0 { Err(format!("{n}")) } else { Ok(n) } [ordered];
///     out:   sink iter();
/// }
/// .collect();
/// assert_eq!(items.iter().filter(|r| r.is_err()).count(), 2);
/// ```
///
/// # Early stop
///
/// `first()` and `take(n)` cancel the rest of the run; take the `Run`'s
/// live-task counter before running to see that nothing is left.
///
/// ```
/// use pipeline::pipeline;
///
/// let run = pipeline! {
///     gen:   source 1u64..;
///     sq:    map |n: u64| n * n [workers = 2];
///     first: sink first();
/// };
/// let live = run.live_tasks();
/// let first = run.run()?;
/// assert!(first.is_some());
/// assert_eq!(live.get(), 0);
/// # Ok::<(), pipeline::Error>(())
/// ```
///
/// # The reusable form
///
/// `vis Name(args) -> Output { stages }` declares a type. `Name::new(args)`
/// keeps the arguments; each `run()` clones them and builds the graph
/// afresh with the current settings, which live in `NameConfig`: one
/// public `StageConfig` field per stage (the sink has none), also reachable
/// by name. Doc comments on the header and on stages become the docs of
/// the type and of the config's fields.
///
/// The type implements `pipeline::Declared`, whose methods are the rest
/// of its API: bring the trait into scope (`use pipeline::Declared;`, or
/// `use pipeline::prelude::*;`) to call them, and write generic code over
/// `D: Declared` to work with any declared pipeline.
///
/// ```
/// use pipeline::{pipeline, Declared};
///
/// pipeline! {
///     /// Squares of `1..=n`, in order.
///     pub Squares(n: u64, width: usize) -> Vec<u64> {
///         gen: source 1..=n;
///         /// The squaring stage.
///         sq:  map |x: u64| x * x [workers = width, ordered];
///         out: sink collect();
///     }
/// }
///
/// let mut squares = Squares::new(4, 2);
/// assert_eq!(squares.run()?, [1, 4, 9, 16]);
///
/// // Change a stage's settings by name (a CLI flag, a benchmark sweep) ...
/// squares.stage_mut("sq").map(|c| c.workers = 3);
/// // ... or by field.
/// squares.config_mut().sq.buffer = 1;
/// squares.run()?;
/// assert_eq!(squares.stats().stage("sq").map(|s| s.width), Some(3));
/// assert!(squares.to_mermaid().contains("-->|4|"));
///
/// // `build()` declares a run without running it: its cancel signal and
/// // live-task counter can be taken first.
/// let run = squares.build();
/// let live = run.live_tasks();
/// run.run()?;
/// assert_eq!(live.get(), 0);
/// # Ok::<(), pipeline::Error>(())
/// ```
///
/// What the macro writes: the type, `NameConfig`, an inherent
/// `new(args)`, `Debug`, and `impl pipeline::Declared` with the
/// declaration's data (`Args`, `Config`, `Built`, `NAME`, `STAGES` (the
/// stages that have settings), `LAYOUT` (every stage and link), the
/// settings by name, and the graph's builder calls). What `Declared`
/// gives: `config()`, `config_mut()`, `stage(name)`, `stage_mut(name)`,
/// `policy()`, `set_policy(p)`, `with_policy(p)`, `build()` (a `Run`, or
/// the started `RunStream` / `RunIter` for a `stream()` / `iter()` sink),
/// `run()` and `run_async()` (for sinks that give a `Run`), `stats()`,
/// `live_tasks()`, `cancel_signal()` and `errors()` of the last run built,
/// `to_mermaid()` and `to_dot()`.
///
/// # Compile errors
///
/// Each is reported at the offending token, all of them in one build:
/// an unknown stage kind, option or sink; an option given twice, missing
/// its value, not for this kind, or contradicting another; a literal
/// width, buffer, window or batch of 0; a duplicate stage name; a `from`
/// or `merge` naming no stage, or the sink; a cycle; a stage whose output
/// nobody reads; no source; no sink; a second sink. A type mismatch
/// between two stages is reported at the stage (or `merge` input) whose
/// input type disagrees.
///
/// ```compile_fail
/// use pipeline::pipeline;
///
/// let run = pipeline! {
///     gen: source 0..10u64;
///     sq:  map |n: u64| n * n [workers = 0]; // error: `workers` must be at least 1
///     out: sink collect();
/// };
/// ```
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let reusable = parse::looks_reusable(&input);
    let result = syn::parse2::<ast::Input>(input).and_then(check::check);
    match result {
        Ok(model) => expand::expand(&model).into(),
        Err(e) if reusable => e.to_compile_error().into(),
        Err(e) => {
            // In expression position: a block whose value is the last error,
            // so the caller's code sees an error type and adds no errors of
            // its own.
            let errors = e.into_iter().map(|e| e.to_compile_error());
            quote::quote!({ #(#errors)* }).into()
        }
    }
}
