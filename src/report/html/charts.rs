//! Small inline SVG charts: readiness over time per tier, and histograms for studies.

use std::fmt::Write;

use super::gantt::{tick, ticks};
use super::model::Model;
use super::{escape, ms};

/// Chart size in SVG user units (the chart scales to the page).
const W: f64 = 800.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

/// One colour per tier, S1 first; the stylesheet has the same list.
pub(super) fn tier_class(index: usize) -> String {
    format!("tier-{}", index % 6)
}

/// Healthy share of each tier's nodes over time, as step lines.
pub(super) fn readiness(out: &mut String, model: &Model, span: u64) {
    out.push_str("<section id=\"readiness\"><h2>Readiness over time, per tier</h2>");
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"share of nodes healthy per tier over time\">"
    );
    frame(out, span, "healthy nodes");
    let mut legend = String::new();
    for (index, (tier, (points, total))) in model.readiness.iter().enumerate() {
        let total = (*total).max(1) as f64;
        let mut path = format!("M{PAD},{}", y(0.0));
        for (t, count) in points {
            let px = px(*t, span);
            let _ = write!(path, " H{px:.1} V{:.1}", y(*count as f64 / total));
        }
        let _ = write!(path, " H{:.1}", px(model.end_ms, span));
        let _ = write!(
            out,
            "<path class=\"line {}\" d=\"{path}\"><title>S{tier}</title></path>",
            tier_class(index)
        );
        let last = points.last().map_or(0, |p| p.1);
        let _ = write!(
            legend,
            "<span><i class=\"swatch {}\"></i>S{tier}: {last}/{} nodes healthy</span>",
            tier_class(index),
            total as usize
        );
    }
    let _ = write!(out, "</svg><p class=\"legend\">{legend}</p></section>");
}

fn px(t: u64, span: u64) -> f64 {
    PAD + (t as f64 / span.max(1) as f64).min(1.0) * (W - 2.0 * PAD)
}

fn y(share: f64) -> f64 {
    H - PAD + -share * (H - 2.0 * PAD)
}

/// Axes with time ticks and 0/50/100 % gridlines.
fn frame(out: &mut String, span: u64, what: &str) {
    for share in [0.0, 0.5, 1.0] {
        let (right, at, label_x) = (W - PAD, y(share), PAD - 4.0);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{PAD}\" x2=\"{right}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/>\
             <text class=\"tick\" x=\"{label_x}\" y=\"{:.1}\" text-anchor=\"end\">{}%</text>",
            at + 4.0,
            (share * 100.0) as u32
        );
    }
    time_labels(out, span);
    let _ = write!(
        out,
        "<text class=\"tick\" x=\"{PAD}\" y=\"14\">{}</text>",
        escape(what)
    );
}

/// Time labels under the x axis of a chart spanning `span` ms.
fn time_labels(out: &mut String, span: u64) {
    for t in ticks(span) {
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px(t, span),
            H - PAD + 16.0,
            ms(t)
        );
    }
}

/// The axis of histograms drawn from `samples` (ms): from a round time just below the
/// fastest to the slowest, so the data fills the chart instead of its right edge.
pub(super) fn histogram_range(samples: impl IntoIterator<Item = u64>) -> (u64, u64) {
    let (mut low, mut high) = (u64::MAX, 0);
    for sample in samples {
        low = low.min(sample);
        high = high.max(sample);
    }
    if low > high {
        return (0, 1);
    }
    let step = tick(high.saturating_sub(low).max(1));
    let from = low / step * step;
    (from, high.max(from + 1))
}

/// A histogram of `samples` (ms) in 40 bins over `range` ([`histogram_range`]), with
/// labelled marker lines (`plan ETA`, `p50`, `p90`) and a caption.
pub(super) fn histogram(
    out: &mut String,
    samples: &[u64],
    range: (u64, u64),
    markers: &[(&str, u64)],
    class: &str,
    caption: &str,
) {
    const BINS: usize = 40;
    let (from, to) = (range.0, range.1.max(range.0 + 1));
    let span = to - from;
    let mut counts = [0usize; BINS];
    for &sample in samples {
        let bin = ((sample.saturating_sub(from) as f64 / span as f64) * BINS as f64) as usize;
        counts[bin.min(BINS - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let _ = write!(
        out,
        "<figure class=\"histogram\" data-axis-from-ms=\"{from}\" data-axis-to-ms=\"{to}\">\
         <svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        escape(caption)
    );
    let width = (W - 2.0 * PAD) / BINS as f64;
    for (index, count) in counts.iter().enumerate() {
        let height = *count as f64 / top * (H - 2.0 * PAD);
        let bin_from = from as f64 + span as f64 * index as f64 / BINS as f64;
        let _ = write!(
            out,
            "<rect class=\"bin {class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\">\
             <title>{} – {}: {count} runs</title></rect>",
            PAD + index as f64 * width,
            H - PAD - height,
            (width - 1.0).max(0.5),
            ms(bin_from as u64),
            ms((bin_from + span as f64 / BINS as f64) as u64),
        );
    }
    for (index, (label, at)) in markers.iter().enumerate() {
        // A marker off the axis (a plan ETA slower than every run) sits on its edge.
        let x = px(at.clamp(&from, &to) - from, span);
        // Labels near an edge grow inwards, so none is cut off.
        let anchor = if x > W * 0.8 {
            "end"
        } else if x < W * 0.2 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            "<g class=\"marker\" data-marker=\"{}\" data-at-ms=\"{at}\">\
             <line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{PAD}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{} {}</text></g>",
            escape(label),
            H - PAD,
            PAD - 4.0 - 11.0 * index as f64,
            escape(label),
            ms(*at)
        );
    }
    for t in ticks(span) {
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px(t, span),
            H - PAD + 16.0,
            ms(from + t)
        );
    }
    let _ = write!(
        out,
        "</svg><figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}
