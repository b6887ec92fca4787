//! A component that exports `racelab:source/plugin@0.1.0` — the right name at a supported
//! version — whose functions have the wrong types. Loading it must fail as a link error that
//! says so, not as a trap in a call.

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({
        inline: "
            package racelab:source@0.1.0;

            interface plugin {
                manifest: func() -> string;
                plan: func(op: u32) -> u32;
                parse: func(op: u32) -> u32;
            }

            world wrong {
                export plugin;
            }
        ",
    });

    struct Wrong;

    impl exports::racelab::source::plugin::Guest for Wrong {
        fn manifest() -> String {
            "not a manifest".to_string()
        }

        fn plan(op: u32) -> u32 {
            op
        }

        fn parse(op: u32) -> u32 {
            op
        }
    }

    export!(Wrong);
}
