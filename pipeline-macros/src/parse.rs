//! The grammar of `pipeline!` -> an AST that keeps every span.
//!
//! Each stage is read as the tokens up to its top-level `;`, so one bad
//! stage becomes one error and parsing goes on with the next: the check pass
//! can then report every problem at once. Only a malformed header or stage
//! name stops parsing.

use proc_macro2::{Delimiter, Group, Spacing, Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{AngleBracketedGenericArguments, Attribute, Expr, Ident, Token, Type, Visibility};

use crate::ast::{
    Arg, Body, Header, Input, Op, Opt, Policy, Role, SinkCall, SourceMode, StageDecl, KINDS,
    MERGE_FROM, OPTIONS, SINKS,
};
use crate::suggest::edit_distance;

/// Whether the tokens start like the reusable form: attributes, a
/// visibility, or `Name(`.
pub(crate) fn looks_reusable(tokens: &TokenStream) -> bool {
    let parser = |input: ParseStream| {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let named = input.peek(Ident) && input.peek2(syn::token::Paren);
        let _: TokenStream = input.parse()?;
        Ok(!attrs.is_empty() || !matches!(vis, Visibility::Inherited) || named)
    };
    parser.parse2(tokens.clone()).unwrap_or(false)
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let reusable = !attrs.is_empty()
            || !matches!(vis, Visibility::Inherited)
            || (input.peek(Ident) && input.peek2(syn::token::Paren));
        if !reusable {
            return parse_stages(input, None);
        }
        let name: Ident = input.parse()?;
        let content;
        syn::parenthesized!(content in input);
        let args = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?;
        let output = if input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            Some(input.parse::<Type>()?)
        } else {
            None
        };
        let body;
        syn::braced!(body in input);
        if !input.is_empty() {
            return Err(input.error("one reusable pipeline per `pipeline!` invocation"));
        }
        let header = Header {
            attrs,
            vis,
            name,
            args: args.into_iter().collect(),
            output,
        };
        parse_stages(&body, Some(header))
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let ty = input.parse()?;
        Ok(Arg { name, ty })
    }
}

fn parse_stages(input: ParseStream, header: Option<Header>) -> syn::Result<Input> {
    let mut out = Input {
        header,
        policy: None,
        stages: Vec::new(),
        errors: Vec::new(),
    };
    while !input.is_empty() {
        let docs = input.call(Attribute::parse_outer)?;
        for a in docs.iter().filter(|a| !a.path().is_ident("doc")) {
            out.errors.push(syn::Error::new_spanned(
                a,
                "only doc comments can be written above a stage",
            ));
        }
        if input.peek(Ident::peek_any) && input.peek2(Token![=]) {
            let key = input.call(Ident::parse_any)?;
            input.parse::<Token![=]>()?;
            let tokens = until_semicolon(input)?;
            if key != "policy" {
                out.errors.push(syn::Error::new(
                    key.span(),
                    format!("unknown setting `{key}`; the only pipeline-wide setting is `policy`"),
                ));
            } else if out.policy.is_some() {
                out.errors
                    .push(syn::Error::new(key.span(), "`policy` is set twice"));
            } else {
                match parse_policy(tokens, key.span()) {
                    Ok(p) => out.policy = Some(p),
                    Err(e) => out.errors.push(e),
                }
            }
            continue;
        }
        let mut name: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a stage: `name: kind ...;` (for example `sq: map |n: u64| n * n;`)",
            )
        })?;
        input.parse::<Token![:]>()?;
        let mut tokens = until_semicolon(input)?;
        let mut docs = docs;
        // A `;` left out between two stages: report it, and read on as if
        // it were there.
        while let Some(i) = next_stage_start(&tokens) {
            let rest = tokens.split_off(i);
            let mut rest = rest.into_iter();
            let Some(TokenTree::Ident(next)) = rest.next() else {
                break;
            };
            out.errors.push(syn::Error::new(
                next.span(),
                format!(
                    "missing `;` before stage `{next}`: end the stage above it, `{name}`, with `;`"
                ),
            ));
            let _colon = rest.next();
            out.stages.push(parse_stage(
                std::mem::take(&mut docs),
                name,
                tokens,
                &mut out.errors,
            ));
            name = next;
            tokens = rest.collect();
        }
        out.stages
            .push(parse_stage(docs, name, tokens, &mut out.errors));
    }
    Ok(out)
}

/// Where a stage's tokens run on into the next stage, `name: kind ...`,
/// because the `;` between them is missing: the index of that name. A
/// name and a colon after `|`, `,` or `(` are a closure's parameter, and
/// only a known kind after the colon counts, so an expression is never
/// cut in two.
fn next_stage_start(tokens: &[TokenTree]) -> Option<usize> {
    (1..tokens.len().saturating_sub(2)).find(|&i| {
        let starts = matches!(
            (&tokens[i], &tokens[i + 1], &tokens[i + 2]),
            (TokenTree::Ident(_), TokenTree::Punct(colon), TokenTree::Ident(kind))
                if colon.as_char() == ':'
                    && colon.spacing() == Spacing::Alone
                    && KINDS.contains(&kind.to_string().as_str())
        );
        let after_param_list = matches!(
            &tokens[i - 1],
            TokenTree::Punct(p) if matches!(p.as_char(), '|' | ',' | '(' | ':' | '<' | '.' | '&')
        );
        starts && !after_param_list
    })
}

/// The token trees up to the next top-level `;` (which is consumed), or to
/// the end.
fn until_semicolon(input: ParseStream) -> syn::Result<Vec<TokenTree>> {
    input.step(|cursor| {
        let mut rest = *cursor;
        let mut tokens = Vec::new();
        while let Some((tt, next)) = rest.token_tree() {
            rest = next;
            match &tt {
                TokenTree::Punct(p) if p.as_char() == ';' => break,
                _ => tokens.push(tt),
            }
        }
        Ok((tokens, rest))
    })
}

fn parse_policy(tokens: Vec<TokenTree>, key: Span) -> syn::Result<Policy> {
    if let [TokenTree::Ident(i)] = tokens.as_slice() {
        if i == "continue" {
            return Ok(Policy::Continue(i.span()));
        }
        if i == "fail_fast" {
            return Ok(Policy::FailFast(i.span()));
        }
    }
    if tokens.is_empty() {
        return Err(syn::Error::new(
            key,
            "expected `policy = continue;` or `policy = fail_fast;`",
        ));
    }
    syn::parse2(tokens.into_iter().collect()).map(Policy::Expr)
}

fn role_of(kind: &Ident) -> Role {
    let k = kind.to_string();
    match k.as_str() {
        "source" => Role::Source,
        "merge" => Role::Merge,
        "sink" => Role::Sink,
        _ => Op::ALL
            .iter()
            .find(|(name, _)| *name == k)
            .map_or(Role::Unknown, |(_, op)| Role::Stage(*op)),
    }
}

fn parse_stage(
    docs: Vec<Attribute>,
    name: Ident,
    tokens: Vec<TokenTree>,
    errors: &mut Vec<syn::Error>,
) -> StageDecl {
    let mut tokens = tokens.into_iter();
    let kind = match tokens.next() {
        Some(TokenTree::Ident(kind)) => kind,
        other => {
            let span = other.map_or(name.span(), |t| t.span());
            errors.push(syn::Error::new(
                span,
                format!(
                    "expected a stage kind after `{name}:`; one of: {}",
                    KINDS.join(", ")
                ),
            ));
            Ident::new("__missing", span)
        }
    };
    let role = role_of(&kind);
    let mut rest: Vec<TokenTree> = tokens.collect();
    let mode = if role == Role::Source {
        source_mode(&mut rest)
    } else {
        SourceMode::Iter
    };
    let (from, options) = split_tail(&mut rest);
    let options = match options.map(|g| parse_options(&g)).transpose() {
        Ok(o) => o.unwrap_or_default(),
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    };
    let body = match parse_body(role, mode, &kind, rest) {
        Ok(b) => b,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    StageDecl {
        docs,
        name,
        kind,
        role,
        body,
        from,
        options,
    }
}

/// Takes a leading `iter`, `stream`, `blocking` or `async` off a source's
/// tokens when what follows is an expression on its own.
fn source_mode(rest: &mut Vec<TokenTree>) -> SourceMode {
    let mode = match rest.first() {
        Some(TokenTree::Ident(i)) if i == "iter" => SourceMode::Iter,
        Some(TokenTree::Ident(i)) if i == "stream" => SourceMode::Stream,
        Some(TokenTree::Ident(i)) if i == "blocking" => SourceMode::Blocking,
        Some(TokenTree::Ident(i)) if i == "async" => SourceMode::Async,
        _ => return SourceMode::Iter,
    };
    let after: TokenStream = rest[1..].iter().cloned().collect();
    let mut probe = rest[1..].to_vec();
    let _ = split_tail(&mut probe);
    let probe: TokenStream = probe.into_iter().collect();
    if after.is_empty() || syn::parse2::<Expr>(probe).is_err() {
        return SourceMode::Iter;
    }
    rest.remove(0);
    mode
}

/// Splits `... from <stage> [options]` (in either order) off the end.
fn split_tail(rest: &mut Vec<TokenTree>) -> (Option<(Ident, Ident)>, Option<Group>) {
    let (mut from, mut options) = (None, None);
    for _ in 0..2 {
        if options.is_none() && is_options(rest) {
            if let Some(TokenTree::Group(g)) = rest.pop() {
                options = Some(g);
            }
        } else if from.is_none() {
            if let [.., TokenTree::Ident(kw), TokenTree::Ident(input)] = rest.as_slice() {
                if kw == "from" {
                    from = Some((kw.clone(), input.clone()));
                    rest.truncate(rest.len() - 2);
                }
            }
        }
    }
    (from, options)
}

/// A trailing `[...]` is the options when something comes before it, it
/// does not end a macro call (`vec![a, b]`), and one of its entries looks
/// like an option: `name = ...`, or a bare name within two edits of an
/// option's (so `[orderd]` is a misspelt option, while `|n| [n, n]` is an
/// array).
fn is_options(rest: &[TokenTree]) -> bool {
    let [.., before, TokenTree::Group(g)] = rest else {
        return false;
    };
    if g.delimiter() != Delimiter::Bracket {
        return false;
    }
    if matches!(before, TokenTree::Punct(p) if p.as_char() == '!') {
        return false;
    }
    let tokens: Vec<TokenTree> = g.stream().into_iter().collect();
    tokens
        .split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
        .any(|entry| match entry {
            [TokenTree::Ident(_), TokenTree::Punct(eq), after @ ..] => {
                // `=`, not `==` or `=>`.
                let joined = matches!(after.first(), Some(TokenTree::Punct(p)) if matches!(p.as_char(), '=' | '>'));
                eq.as_char() == '=' && !(eq.spacing() == Spacing::Joint && joined)
            }
            [TokenTree::Ident(name)] => {
                let name = name.to_string();
                OPTIONS.iter().any(|o| edit_distance(&name, o) <= 2)
            }
            _ => false,
        })
}

/// An expression without redundant outer parentheses, which are how an
/// expression ending in `[...]` is told apart from options.
fn expr(tokens: TokenStream) -> syn::Result<Expr> {
    Ok(match syn::parse2(tokens)? {
        Expr::Paren(p) => *p.expr,
        e => e,
    })
}

fn parse_options(group: &Group) -> syn::Result<Vec<Opt>> {
    let parser = Punctuated::<Opt, Token![,]>::parse_terminated;
    Ok(parser.parse2(group.stream())?.into_iter().collect())
}

impl Parse for Opt {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Opt { name, value })
    }
}

fn parse_body(
    role: Role,
    mode: SourceMode,
    kind: &Ident,
    rest: Vec<TokenTree>,
) -> syn::Result<Option<Body>> {
    let tokens: TokenStream = rest.into_iter().collect();
    let needs =
        |what: &str| syn::Error::new(kind.span(), format!("expected {what} after `{kind}`"));
    Ok(Some(match role {
        Role::Unknown => return Ok(None),
        Role::Source if tokens.is_empty() => return Err(needs("the items of the source (an iterable, `stream s`, `blocking |em| ...` or `async |em| async move { ... }`)")),
        Role::Source => Body::Source {
            mode,
            expr: expr(tokens)?,
        },
        Role::Stage(_) if tokens.is_empty() => return Err(needs("the stage's function (a path or a closure)")),
        Role::Stage(_) => Body::Stage {
            func: expr(tokens)?,
        },
        Role::Merge if tokens.is_empty() => return Err(needs("the stages to merge: `merge a, b`")),
        Role::Merge => {
            if let Some(TokenTree::Ident(kw)) = tokens.clone().into_iter().next() {
                if kw == "from" {
                    return Err(syn::Error::new(kw.span(), MERGE_FROM));
                }
            }
            let parser = Punctuated::<Ident, Token![,]>::parse_separated_nonempty;
            Body::Merge {
                inputs: parser.parse2(tokens)?.into_iter().collect(),
            }
        }
        Role::Sink if tokens.is_empty() => return Err(needs(&format!("what the sink does, one of: {SINKS}"))),
        Role::Sink => Body::Sink(syn::parse2(tokens)?),
    }))
}

impl Parse for SinkCall {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let method: Ident = input.parse()?;
        let turbofish = if input.peek(Token![::]) {
            Some(AngleBracketedGenericArguments::parse_turbofish(input)?)
        } else {
            None
        };
        let content;
        syn::parenthesized!(content in input);
        let args = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
        Ok(SinkCall {
            method,
            turbofish,
            args: args.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests;
