//! One integration-test binary (faster to link, one shared dockerd).

mod bundle;
