//! What can travel between stages.

/// What a stage can send to the next one: any `Send + 'static` type,
/// since stages run on several threads. Implemented for every such type;
/// it exists so that a stage whose items are not `Send` (an `Rc`, a
/// `RefCell`) is told, at that stage, what to use instead.
#[diagnostic::on_unimplemented(
    message = "the items of a stage must be `Send`: `{Self}` is not",
    label = "this stage makes `{Self}` items, which cannot go to another thread",
    note = "items cross threads between stages: use `Arc` instead of `Rc`, and a `Mutex` or an atomic instead of `RefCell` or `Cell`"
)]
pub trait Item: Send + 'static {}

impl<T: Send + 'static> Item for T {}
