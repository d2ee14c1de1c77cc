//! The same-run baseline: QuickJS through `rquickjs` with nothing of VoiceXML around it.
//!
//! A runtime and context configured as `herald_ivr::script::ScriptEngine` configures its own
//! (memory limit, stack size, interrupt handler, the same five intrinsics), without the scope
//! prelude, evaluating plain programs as global code. What the interpreter adds on top of this
//! floor is its own work: the scope chain, declaration checks, the form interpretation
//! algorithm and everything Rust-side.

use std::cell::Cell;
use std::rc::Rc;

use rquickjs::context::{EvalOptions, intrinsic};
use rquickjs::{Context, Runtime, Value};

/// A bare runtime and context.
pub struct Engine {
    // The context must drop before its runtime.
    context: Context,
    runtime: Runtime,
}

impl Engine {
    pub fn new() -> Result<Self, String> {
        let runtime = Runtime::new().map_err(|e| e.to_string())?;
        runtime.set_memory_limit(16 << 20);
        let context = Self::context(&runtime)?;
        Ok(Self { context, runtime })
    }

    /// A context like the interpreter's, in `runtime`.
    fn context(runtime: &Runtime) -> Result<Context, String> {
        runtime.set_max_stack_size(512 << 10);
        let budget = Rc::new(Cell::new(2_000u32));
        runtime.set_interrupt_handler(Some(Box::new(move || {
            budget.set(budget.get().saturating_sub(1));
            budget.get() == 0
        })));
        Context::custom::<(
            intrinsic::Date,
            intrinsic::Eval,
            intrinsic::RegExpCompiler,
            intrinsic::RegExp,
            intrinsic::Json,
        )>(runtime)
        .map_err(|e| e.to_string())
    }

    /// Evaluates `code` as global, sloppy-mode code, as the interpreter's engine does.
    pub fn eval(&self, code: &str) -> Result<(), String> {
        self.context.with(|ctx| {
            let mut options = EvalOptions::default();
            options.global = true;
            options.strict = false;
            options.filename = None;
            ctx.eval_with_options::<Value, _>(code, options)
                .map(|_| ())
                .map_err(|e| format!("{e}: {code}"))
        })
    }

    /// Bytes of the runtime's heap.
    pub fn memory_used(&self) -> usize {
        usize::try_from(self.runtime.memory_usage().memory_used_size).unwrap_or(usize::MAX)
    }
}

/// Evaluates `programs` in order on `engine`, `times` times over.
pub fn eval_all(engine: &Engine, programs: &[&str], times: usize) -> Result<(), String> {
    for _ in 0..times {
        for program in programs {
            engine.eval(program)?;
        }
    }
    Ok(())
}

/// Contexts sharing one runtime: what a session would cost if sessions shared a runtime (and
/// with it the atom table and the allocator's arenas) instead of owning one each.
pub struct SharedRuntime {
    contexts: Vec<Context>,
    runtime: Runtime,
}

impl SharedRuntime {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            contexts: Vec::new(),
            runtime: Runtime::new().map_err(|e| e.to_string())?,
        })
    }

    pub fn add_context(&mut self) -> Result<(), String> {
        self.contexts.push(Engine::context(&self.runtime)?);
        Ok(())
    }

    pub fn memory_used(&self) -> usize {
        usize::try_from(self.runtime.memory_usage().memory_used_size).unwrap_or(usize::MAX)
    }
}
