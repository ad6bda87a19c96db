//! `blackstart import ansible`: a topology skeleton written from an inventory.
