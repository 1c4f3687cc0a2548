//! Drawing a [`ChartSpec`] with plotters into an RGB buffer and encoding it as PNG.

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{AsRangedCoord, SegmentValue, ValueFormatter};
use plotters::prelude::*;

use super::font::{self, FAMILY};
use super::{ChartError, ChartKind, ChartSpec, HEIGHT, WIDTH};

/// The longest label drawn on a bar, in characters; longer ones end in "…".
const MAX_LABEL_CHARS: usize = 22;
const ACCENT: RGBColor = RGBColor(37, 99, 235);
const BAR: RGBColor = RGBColor(96, 165, 250);
const INK: RGBColor = RGBColor(31, 41, 55);
const GRID: RGBColor = RGBColor(229, 231, 235);

fn draw_error(e: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// The chart as PNG bytes.
pub(super) fn png(spec: &ChartSpec) -> Result<Vec<u8>, ChartError> {
    font::ensure()?;
    let mut rgb = vec![255_u8; (WIDTH as usize) * (HEIGHT as usize) * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        match spec.kind {
            ChartKind::Line => line(&root, spec)?,
            ChartKind::Bar => bar(&root, spec)?,
        }
        root.present().map_err(draw_error)?;
    }
    encode(&rgb)
}

/// The top of the value axis: a little above the largest figure (100% at most for
/// percentages that reach it), and 1 when every figure is 0.
fn axis_max(spec: &ChartSpec) -> f64 {
    let max = spec.points.iter().map(|p| p.value).fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return 1.0;
    }
    let top = max * 1.12;
    match spec.unit {
        super::Unit::Percent if max <= 100.0 => top.min(105.0),
        _ => top,
    }
}

fn short(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_owned();
    }
    let cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// Roughly the height of the plotting area, in pixels, to size bars.
const PLOT_HEIGHT: u32 = HEIGHT - 140;

/// The integer range with one segment per point (plotters' integer ranges include their
/// end), at least two so that a single point still has a segment of its own.
fn segments(n: usize) -> std::ops::Range<i32> {
    0..as_i32(n.max(2)) - 1
}

/// Index `i` of `n` as a tick position, for the plotters coordinate types.
fn as_i32(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

/// The label of the point whose segment is centred at `v` (`point_at` turns a segment
/// into the point's index); none between segments.
fn point_label<'s>(
    spec: &'s ChartSpec,
    v: &SegmentValue<i32>,
    point_at: impl Fn(i32) -> i32,
) -> Option<&'s str> {
    match v {
        SegmentValue::CenterOf(segment) => usize::try_from(point_at(*segment))
            .ok()
            .and_then(|i| spec.points.get(i))
            .map(|p| p.label.as_str()),
        _ => None,
    }
}

/// The canvas both kinds of chart draw on.
type Canvas<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// A chart on the canvas, over the axes `X` (across) and `Y` (up).
type Plot<'a, X, Y> = ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>;

/// The frame both kinds share: the title on top, the margins, and room on the left for
/// `left_labels` pixels of labels (figures for a line, names for bars), over the axes'
/// ranges `x` and `y`.
fn frame<'a, X: AsRangedCoord, Y: AsRangedCoord>(
    root: &Canvas<'a>,
    spec: &ChartSpec,
    left_labels: u32,
    x: X,
    y: Y,
) -> Result<Plot<'a, X::CoordDescType, Y::CoordDescType>, ChartError> {
    ChartBuilder::on(root)
        .caption(&spec.title, (FAMILY, 24).into_font().color(&INK))
        .margin(18)
        .x_label_area_size(52)
        .y_label_area_size(left_labels)
        .build_cartesian_2d(x, y)
        .map_err(draw_error)
}

/// Draws the grid, the tick labels and the axis names in the house fonts and colours,
/// once `mesh` knows which axis carries the points' labels.
fn draw_mesh<X, Y>(mesh: &mut MeshStyle<'_, '_, X, Y, BitMapBackend<'_>>) -> Result<(), ChartError>
where
    X: Ranged + ValueFormatter<<X as Ranged>::ValueType>,
    Y: Ranged + ValueFormatter<<Y as Ranged>::ValueType>,
{
    mesh.label_style((FAMILY, 14).into_font().color(&INK))
        .axis_desc_style((FAMILY, 16).into_font().color(&INK))
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .draw()
        .map_err(draw_error)
}

fn line(root: &Canvas<'_>, spec: &ChartSpec) -> Result<(), ChartError> {
    let n = spec.points.len();
    let mut chart = frame(
        root,
        spec,
        96,
        segments(n).into_segmented(),
        0.0..axis_max(spec),
    )?;
    // Points sit in the middle of their segment, so the first and last labels fit.
    let label_at =
        |v: &SegmentValue<i32>| point_label(spec, v, |i| i).map_or_else(String::new, str::to_owned);
    let unit = spec.unit;
    draw_mesh(
        chart
            .configure_mesh()
            .x_labels(n.min(14))
            .y_labels(6)
            .disable_x_mesh()
            .x_label_formatter(&label_at)
            .y_label_formatter(&|v: &f64| unit.format_tick(*v))
            .x_desc(spec.x_label.as_str())
            .y_desc(spec.y_label.as_str()),
    )?;
    let points: Vec<(SegmentValue<i32>, f64)> = spec
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| (SegmentValue::CenterOf(as_i32(i)), p.value))
        .collect();
    chart
        .draw_series(LineSeries::new(points.clone(), ACCENT.stroke_width(3)))
        .map_err(draw_error)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|(x, y)| Circle::new((x.clone(), *y), 5, ACCENT.filled())),
        )
        .map_err(draw_error)?;
    Ok(())
}

fn bar(root: &Canvas<'_>, spec: &ChartSpec) -> Result<(), ChartError> {
    let n = spec.points.len();
    let count = as_i32(n);
    // The first point is drawn on top: point i sits in segment n-1-i.
    let row_of = |i: usize| count - 1 - as_i32(i);
    let mut chart = frame(
        root,
        spec,
        170,
        0.0..axis_max(spec) * 1.08,
        segments(n).into_segmented(),
    )?;
    let label_of = |v: &SegmentValue<i32>| {
        point_label(spec, v, |row| count - 1 - row).map_or_else(String::new, short)
    };
    let unit = spec.unit;
    draw_mesh(
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .x_labels(6)
            .y_label_formatter(&label_of)
            .x_label_formatter(&|v: &f64| unit.format_tick(*v))
            .x_desc(spec.y_label.as_str())
            .y_desc(spec.x_label.as_str()),
    )?;
    // About a fifth of each row is space, and no bar is thicker than 60 pixels.
    let row = PLOT_HEIGHT / u32::try_from(n.max(2)).unwrap_or(u32::MAX);
    let gap = (row / 5).max(row.saturating_sub(60) / 2).max(1);
    chart
        .draw_series(spec.points.iter().enumerate().map(|(i, p)| {
            let row = row_of(i);
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    (p.value, SegmentValue::Exact(row + 1)),
                ],
                BAR.filled(),
            );
            bar.set_margin(gap, gap, 0, 0);
            bar
        }))
        .map_err(draw_error)?;
    chart
        .draw_series(spec.points.iter().enumerate().map(|(i, p)| {
            EmptyElement::at((p.value, SegmentValue::CenterOf(row_of(i))))
                + Text::new(
                    unit.format(p.value),
                    (6, -8),
                    (FAMILY, 14).into_font().color(&INK),
                )
        }))
        .map_err(draw_error)?;
    Ok(())
}

fn encode(rgb: &[u8]) -> Result<Vec<u8>, ChartError> {
    let encode_error = |e: png::EncodingError| ChartError::Encode(e.to_string());
    let mut out = Vec::with_capacity(64 * 1024);
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // A chart is mostly flat colour: the fast deflate keeps it small at a fraction of
        // the default level's CPU (charts are drawn for every trend or breakdown answer).
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(encode_error)?;
        writer.write_image_data(rgb).map_err(encode_error)?;
        writer.finish().map_err(encode_error)?;
    }
    Ok(out)
}
