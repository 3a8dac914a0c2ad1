//! The `#[contract]` and `#[transaction]` attribute macros of
//! `cellchain-contract` (use them through that crate, which documents them).
//!
//! `#[contract]` reads an `impl` block, checks each `#[transaction]` method's
//! shape, and generates `impl cellchain_contract::Contract` (a `match` on the
//! function name decoding the JSON arguments with `cellchain_contract::Args`,
//! and the metadata) plus, for the package being built on wasm32, the ABI
//! exports `cellchain_abi_v1` and `cellchain_invoke`.

use std::collections::BTreeMap;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, Error, FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, PathArguments,
    ReturnType, Type,
};

/// See `cellchain_contract::contract`.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    let result = if !attr.is_empty() {
        Err(Error::new(
            attr.span(),
            "#[contract] takes no arguments; options go on each #[transaction(..)]",
        ))
    } else {
        syn::parse::<ItemImpl>(item).and_then(expand)
    };
    result.unwrap_or_else(Error::into_compile_error).into()
}

/// See `cellchain_contract::transaction`. On its own (outside a `#[contract]`
/// impl block, which removes it) it is an error.
#[proc_macro_attribute]
pub fn transaction(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    let err = Error::new(
        Span::call_site(),
        "#[transaction] only marks methods of an impl block that has #[contract] on it \
         (put #[contract] above the impl block)",
    )
    .into_compile_error();
    quote!(#err #item).into()
}

/// One transaction method, checked.
struct Transaction {
    /// The method's identifier.
    ident: syn::Ident,
    /// The name clients call.
    name: String,
    evaluate: bool,
    transient: Vec<String>,
    params: Vec<(String, Type)>,
    returns: String,
    doc: String,
}

#[derive(Default)]
struct Options {
    evaluate: bool,
    name: Option<LitStr>,
    transient: Vec<String>,
}

fn expand(mut imp: ItemImpl) -> syn::Result<TokenStream2> {
    if let Some(t) = &imp.trait_ {
        return Err(Error::new(
            t.1.span(),
            "#[contract] goes on an inherent impl block (`impl MyContract { .. }`), not a trait impl",
        ));
    }
    if !imp.generics.params.is_empty() {
        return Err(Error::new(
            imp.generics.span(),
            "a contract type cannot be generic: the wasm export needs one concrete type",
        ));
    }
    let self_ty = imp.self_ty.clone();
    let contract_name = match &*self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        other => {
            return Err(Error::new(
                other.span(),
                "#[contract] needs a named type, e.g. `impl MyContract`",
            ))
        }
    };

    let mut txs = Vec::new();
    let mut errors: Vec<Error> = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for item in &mut imp.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(options) = take_transaction_attr(method, &mut errors) else {
            continue;
        };
        let name_span = options
            .name
            .as_ref()
            .map(LitStr::span)
            .unwrap_or(method.sig.ident.span());
        match check_method(method, options) {
            Ok(tx) => {
                if let Some(first) = seen.get(&tx.name) {
                    let mut e = Error::new(
                        name_span,
                        format!("duplicate transaction name `{}`", tx.name),
                    );
                    e.combine(Error::new(*first, "first defined here"));
                    errors.push(e);
                } else {
                    seen.insert(tx.name.clone(), name_span);
                }
                txs.push(tx);
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(mut e) = errors.pop() {
        for other in errors {
            e.combine(other);
        }
        return Err(e);
    }
    if txs.is_empty() {
        return Err(Error::new(
            imp.self_ty.span(),
            "this contract has no transactions: mark methods with #[transaction] or \
             #[transaction(evaluate)]",
        ));
    }

    let arms = txs.iter().map(dispatch_arm);
    let names: Vec<&str> = txs.iter().map(|t| t.name.as_str()).collect();
    let functions = txs.iter().map(function_metadata);
    let exports = exports(&self_ty);

    Ok(quote! {
        #imp

        impl ::cellchain_contract::Contract for #self_ty {
            fn dispatch(
                __ctx: &mut ::cellchain_contract::Context,
                __function: &str,
                __args: ::std::vec::Vec<::cellchain_contract::__private::serde_json::Value>,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, ::cellchain_contract::ContractError> {
                match __function {
                    #(#arms)*
                    __other => ::core::result::Result::Err(
                        ::cellchain_contract::unknown_function(__other, &[#(#names),*]),
                    ),
                }
            }

            fn metadata() -> ::cellchain_contract::ContractMetadata {
                ::cellchain_contract::ContractMetadata {
                    name: ::std::string::String::from(#contract_name),
                    functions: ::std::vec![#(#functions),*],
                }
            }
        }

        #exports
    })
}

/// Removes the `#[transaction]` attribute of a method and parses its options;
/// `None` for ordinary methods.
fn take_transaction_attr(method: &mut ImplItemFn, errors: &mut Vec<Error>) -> Option<Options> {
    let pos = method.attrs.iter().position(is_transaction_attr)?;
    let attr = method.attrs.remove(pos);
    if let Some(extra) = method.attrs.iter().find(|a| is_transaction_attr(a)) {
        errors.push(Error::new(extra.span(), "#[transaction] given twice"));
    }
    match parse_options(&attr) {
        Ok(o) => Some(o),
        Err(e) => {
            errors.push(e);
            Some(Options::default())
        }
    }
}

fn is_transaction_attr(a: &Attribute) -> bool {
    a.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "transaction")
}

fn parse_options(attr: &Attribute) -> syn::Result<Options> {
    let mut o = Options::default();
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return Ok(o);
    }
    attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("evaluate") {
            o.evaluate = true;
            Ok(())
        } else if meta.path.is_ident("submit") {
            o.evaluate = false;
            Ok(())
        } else if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            if lit.value().is_empty() {
                return Err(Error::new(lit.span(), "a transaction name cannot be empty"));
            }
            o.name = Some(lit);
            Ok(())
        } else if meta.path.is_ident("transient") {
            let lit: LitStr = meta.value()?.parse()?;
            for t in lit.value().split(',').map(str::trim) {
                if t.is_empty() {
                    return Err(Error::new(lit.span(), "empty transient input name"));
                }
                o.transient.push(t.to_string());
            }
            Ok(())
        } else {
            Err(meta.error(
                "unknown #[transaction] option: expected `evaluate`, `name = \"..\"` or \
                 `transient = \"..\"`",
            ))
        }
    })?;
    Ok(o)
}

fn check_method(method: &ImplItemFn, options: Options) -> syn::Result<Transaction> {
    let sig = &method.sig;
    if let Some(a) = &sig.asyncness {
        return Err(Error::new(a.span(), "a transaction cannot be async"));
    }
    if !sig.generics.params.is_empty() {
        return Err(Error::new(
            sig.generics.span(),
            "a transaction cannot be generic: its parameters are decoded from JSON into \
             concrete types",
        ));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) => {
            return Err(Error::new(
                r.span(),
                "a transaction takes no `self`: contracts keep no state between calls; \
                 write `fn name(ctx: &mut Context, ..)` and keep state in the ledger",
            ))
        }
        Some(FnArg::Typed(pt)) if is_context_ref(&pt.ty) => {}
        Some(other) => {
            return Err(Error::new(
                other.span(),
                "the first parameter of a transaction must be the context: \
                 `ctx: &mut Context` (or `ctx: &Context` for a read-only function)",
            ))
        }
        None => {
            return Err(Error::new(
                sig.paren_token.span.join(),
                "a transaction needs the context as its first parameter: \
                 `fn name(ctx: &mut Context, ..)`",
            ))
        }
    }
    let mut params = Vec::new();
    for input in inputs {
        let FnArg::Typed(pt) = input else {
            return Err(Error::new(input.span(), "unexpected `self`"));
        };
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(Error::new(
                pt.pat.span(),
                "transaction parameters must be plain names (they are the names of \
                 named arguments), not patterns",
            ));
        };
        if let Type::Reference(r) = &*pt.ty {
            return Err(Error::new(
                r.span(),
                "transaction parameters are decoded from JSON and must be owned types \
                 (`String`, not `&str`; `Vec<T>`, not `&[T]`)",
            ));
        }
        if let Type::ImplTrait(t) = &*pt.ty {
            return Err(Error::new(
                t.span(),
                "transaction parameters need concrete types",
            ));
        }
        let name = pi.ident.unraw().to_string();
        params.push((name, (*pt.ty).clone()));
    }
    let returns = match &sig.output {
        ReturnType::Type(_, ty) => result_ok_type(ty).ok_or_else(|| {
            Error::new(
                ty.span(),
                "a transaction must return `Result<T, E>` (T: Serialize is the response, \
                 E: Display the error message)",
            )
        })?,
        ReturnType::Default => {
            return Err(Error::new(
                sig.ident.span(),
                "a transaction must return `Result<T, E>`; return `Result<(), E>` when \
                 there is nothing to answer",
            ))
        }
    };
    Ok(Transaction {
        ident: sig.ident.clone(),
        name: options
            .name
            .map(|l| l.value())
            .unwrap_or_else(|| sig.ident.unraw().to_string()),
        evaluate: options.evaluate,
        transient: options.transient,
        params,
        returns,
        doc: doc_text(&method.attrs),
    })
}

/// `&Context` or `&mut Context` (any path ending in `Context`).
fn is_context_ref(ty: &Type) -> bool {
    let Type::Reference(r) = ty else { return false };
    let Type::Path(p) = &*r.elem else {
        return false;
    };
    p.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "Context" && s.arguments.is_empty())
}

/// The `T` of `Result<T, E>` (or of an alias whose name ends in `Result`, such
/// as `cellchain_contract::Result<T>`), as text.
fn result_ok_type(ty: &Type) -> Option<String> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if !last.ident.to_string().ends_with("Result") {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(type_text(t)),
        _ => None,
    }
}

/// A type as written, with the spaces token printing adds removed:
/// `Option < Vec < u8 > >` becomes `Option<Vec<u8>>`.
fn type_text(ty: &Type) -> String {
    let raw = ty.to_token_stream().to_string();
    let chars: Vec<char> = raw.chars().collect();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(raw.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let prev = out.chars().last().unwrap_or(' ');
            let next = chars.get(i + 1).copied().unwrap_or(' ');
            if !(word(prev) && word(next)) && prev != ',' && prev != ';' {
                continue;
            }
        }
        out.push(c);
        if c == ',' || c == ';' {
            out.push(' ');
        }
    }
    out.replace("  ", " ")
}

fn doc_text(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join("\n").trim().to_string()
}

fn dispatch_arm(tx: &Transaction) -> TokenStream2 {
    let name = &tx.name;
    let ident = &tx.ident;
    let param_names = tx.params.iter().map(|(n, _)| n.as_str());
    let param_types = tx.params.iter().map(|(_, t)| type_text(t));
    let vars: Vec<syn::Ident> = (0..tx.params.len())
        .map(|i| format_ident!("__p{}", i))
        .collect();
    let takes = tx
        .params
        .iter()
        .zip(&vars)
        .enumerate()
        .map(|(i, ((_, ty), var))| {
            quote_spanned! {ty.span()=>
                let #var: #ty = __bound.take(#i)?;
            }
        });
    quote! {
        #name => {
            const __PARAMS: &[::cellchain_contract::Param] = &[#((#param_names, #param_types)),*];
            #[allow(unused_mut)]
            let mut __bound = ::cellchain_contract::Args::bind(#name, __PARAMS, __args)?;
            #(#takes)*
            ::cellchain_contract::__private::respond(Self::#ident(__ctx, #(#vars),*))
        }
    }
}

fn function_metadata(tx: &Transaction) -> TokenStream2 {
    let name = &tx.name;
    let evaluate = tx.evaluate;
    let returns = &tx.returns;
    let doc = &tx.doc;
    let transient = &tx.transient;
    let params = tx.params.iter().map(|(n, t)| {
        let ty = type_text(t);
        quote! {
            ::cellchain_contract::ParamMetadata {
                name: ::std::string::String::from(#n),
                ty: ::std::string::String::from(#ty),
            }
        }
    });
    quote! {
        ::cellchain_contract::FunctionMetadata {
            name: ::std::string::String::from(#name),
            evaluate: #evaluate,
            params: ::std::vec![#(#params),*],
            returns: ::std::string::String::from(#returns),
            transient: ::std::vec![#(::std::string::String::from(#transient)),*],
            doc: ::std::string::String::from(#doc),
        }
    }
}

/// The ABI exports, only for the package Cargo was asked to build: a contract
/// used as a library by another contract must not export them a second time
/// (the linker refuses the duplicate symbols).
///
/// Cargo does not fingerprint `CARGO_PRIMARY_PACKAGE` (rust-lang/cargo#14678):
/// a workspace member compiled once as the package built and once as a
/// dependency shares one artefact, so contracts that depend on contracts are
/// built one per cargo invocation, in a target directory of their own (see
/// the crate docs of cellchain-contract).
fn exports(self_ty: &Type) -> TokenStream2 {
    if std::env::var_os("CARGO_PRIMARY_PACKAGE").is_none() {
        return TokenStream2::new();
    }
    quote! {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            /// Marker: this module speaks CellChain chaincode ABI v1.
            #[unsafe(no_mangle)]
            pub extern "C" fn cellchain_abi_v1() {}

            /// Runs one invocation (ABI v1): returns 0 after `set_response`.
            #[unsafe(no_mangle)]
            pub extern "C" fn cellchain_invoke() -> i32 {
                ::cellchain_contract::run::<#self_ty>()
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    /// The error messages `#[contract]` gives for `imp`, joined with " | ".
    fn error_of(imp: ItemImpl) -> String {
        match expand(imp) {
            Ok(tokens) => panic!("expected an error, got: {tokens}"),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn self_receivers_are_refused() {
        let e = error_of(parse_quote! {
            impl C {
                #[transaction]
                fn f(&self, ctx: &mut Context) -> Result<(), E> { Ok(()) }
            }
        });
        assert!(e.starts_with("a transaction takes no `self`"), "{e}");
    }

    #[test]
    fn the_context_must_come_first() {
        for imp in [
            parse_quote! { impl C { #[transaction] fn f() -> Result<(), E> { Ok(()) } } },
            parse_quote! { impl C { #[transaction] fn f(id: String) -> Result<(), E> { Ok(()) } } },
            parse_quote! { impl C { #[transaction] fn f(ctx: Context) -> Result<(), E> { Ok(()) } } },
        ] {
            let e = error_of(imp);
            assert!(e.contains("context"), "{e}");
        }
    }

    #[test]
    fn a_result_must_be_returned() {
        let e = error_of(parse_quote! {
            impl C { #[transaction] fn f(ctx: &mut Context) {} }
        });
        assert!(
            e.starts_with("a transaction must return `Result<T, E>`"),
            "{e}"
        );
        let e = error_of(parse_quote! {
            impl C { #[transaction] fn f(ctx: &mut Context) -> Option<u8> { None } }
        });
        assert!(
            e.starts_with("a transaction must return `Result<T, E>`"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_names_point_at_both() {
        let e = error_of(parse_quote! {
            impl C {
                #[transaction(name = "b")]
                fn a(ctx: &mut Context) -> Result<(), E> { Ok(()) }
                #[transaction]
                fn b(ctx: &mut Context) -> Result<(), E> { Ok(()) }
            }
        });
        assert_eq!(e, "duplicate transaction name `b` | first defined here");
    }

    #[test]
    fn parameters_must_be_owned_named_and_concrete() {
        let e = error_of(parse_quote! {
            impl C { #[transaction] fn f(ctx: &mut Context, id: &str) -> Result<(), E> { Ok(()) } }
        });
        assert!(e.contains("must be owned types"), "{e}");
        let e = error_of(parse_quote! {
            impl C { #[transaction] fn f(ctx: &mut Context, (a, b): (u8, u8)) -> Result<(), E> { Ok(()) } }
        });
        assert!(e.contains("plain names"), "{e}");
        let e = error_of(parse_quote! {
            impl C { #[transaction] fn f<T>(ctx: &mut Context, t: T) -> Result<(), E> { Ok(()) } }
        });
        assert!(e.starts_with("a transaction cannot be generic"), "{e}");
        let e = error_of(parse_quote! {
            impl C { #[transaction] async fn f(ctx: &mut Context) -> Result<(), E> { Ok(()) } }
        });
        assert_eq!(e, "a transaction cannot be async");
    }

    #[test]
    fn options_are_checked() {
        let e = error_of(parse_quote! {
            impl C { #[transaction(query)] fn f(ctx: &Context) -> Result<(), E> { Ok(()) } }
        });
        assert!(e.starts_with("unknown #[transaction] option"), "{e}");
        let e = error_of(parse_quote! {
            impl C { #[transaction(name = "")] fn f(ctx: &Context) -> Result<(), E> { Ok(()) } }
        });
        assert_eq!(e, "a transaction name cannot be empty");
    }

    #[test]
    fn blocks_without_transactions_or_on_traits_are_refused() {
        let e = error_of(parse_quote! { impl C { fn helper() {} } });
        assert!(e.starts_with("this contract has no transactions"), "{e}");
        let e = error_of(parse_quote! {
            impl T for C { #[transaction] fn f(ctx: &mut Context) -> Result<(), E> { Ok(()) } }
        });
        assert!(e.contains("not a trait impl"), "{e}");
    }

    #[test]
    fn expansion_dispatches_by_name_and_keeps_helpers() {
        let out = expand(parse_quote! {
            impl C {
                /// Doc.
                #[transaction(evaluate, transient = "a, b")]
                fn get(ctx: &Context, id: String, n: Option<Vec<u8>>) -> Result<u8, E> { Ok(1) }
                fn helper() {}
            }
        })
        .unwrap()
        .to_string();
        assert!(out.contains("\"get\" =>"), "{out}");
        assert!(out.contains("fn helper"), "{out}");
        assert!(!out.contains("# [transaction"), "attribute removed: {out}");
        assert!(out.contains("\"Option<Vec<u8>>\""), "{out}");
        assert!(out.contains("\"Doc.\""), "{out}");
        assert!(out.contains("evaluate : true"), "{out}");
    }

    #[test]
    fn type_text_drops_token_spacing() {
        let t = |ty: Type| type_text(&ty);
        assert_eq!(t(parse_quote!(Option<Vec<u8>>)), "Option<Vec<u8>>");
        assert_eq!(
            t(parse_quote!((String, Vec<String>))),
            "(String, Vec<String>)"
        );
        assert_eq!(t(parse_quote!([u8; 32])), "[u8; 32]");
        assert_eq!(
            t(parse_quote!(std::collections::BTreeMap<String, u64>)),
            "std::collections::BTreeMap<String, u64>"
        );
        assert_eq!(t(parse_quote!(r#type::Foo)), "r#type::Foo");
    }
}
