//! The experiment registry: one module per figure or table of the paper
//! (docs/METHODS.md §6), in the order of the paper. Each module defines its experiment as a
//! `Definition`; adding one means its file, a line below, and its table in the profiles.

pub mod batchnorm;
pub mod bootstrap;
pub mod cnn;
pub mod depth_width;
pub mod kaiming_table;
pub mod kit;
pub mod partial_products;
pub mod pruning;
pub mod relu;
pub mod relu_n_below_d;
pub mod residual;
pub mod spectrum_rank;
pub mod stored_values;
pub mod tight_vs_loose;
pub mod training_dynamics;
pub mod whitening;
pub mod width_scaling;
pub mod width_training;

use crate::experiment::{Experiment, Typed};

/// Every experiment, in the order of the paper.
pub fn registry() -> Vec<&'static dyn Experiment> {
    vec![
        &Typed::<depth_width::DepthWidth>::NEW,
        &Typed::<width_scaling::WidthScaling>::NEW,
        &Typed::<tight_vs_loose::TightVsLoose>::NEW,
        &Typed::<kaiming_table::KaimingTable>::NEW,
        &Typed::<residual::Residual>::NEW,
        &Typed::<partial_products::PartialProducts>::NEW,
        &Typed::<whitening::Whitening>::NEW,
        &Typed::<cnn::Cnn>::NEW,
        &Typed::<relu::Relu>::NEW,
        &Typed::<relu_n_below_d::ReluNBelowD>::NEW,
        &Typed::<batchnorm::BatchNorm>::NEW,
        &Typed::<training_dynamics::TrainingDynamics>::NEW,
        &Typed::<width_training::WidthTraining>::NEW,
        &Typed::<pruning::Pruning>::NEW,
        &Typed::<spectrum_rank::SpectrumRank>::NEW,
        &Typed::<stored_values::StoredValues>::NEW,
    ]
}

/// Find an experiment by id.
pub fn find(id: &str) -> Option<&'static dyn Experiment> {
    registry().into_iter().find(|e| e.id() == id)
}
