//! HTTP tests of the simulator: a real server on 127.0.0.1:0, a real client, a frozen clock.

mod calendar;
mod envelopes;
mod faults;
mod gateway;
mod kspo;
mod model;
mod support;
