//! The one font of every chart: DejaVu Sans, embedded in the binary (its licence is in
//! `assets/fonts/LICENSE-DejaVu.txt`) and registered with plotters once per process.

use std::sync::OnceLock;

use plotters::style::FontStyle;

use super::ChartError;

/// The family name charts ask plotters for.
pub(super) const FAMILY: &str = "frontdesk-sans";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the font on first use.
///
/// # Errors
/// [`ChartError::Font`] when the embedded file is not a font (a broken build).
pub(super) fn ensure() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Font)
    }
}
