// What the chart pages share: uPlot sized to its card, on any screen width.

export function resizeWith(holder, plot) {
  const fit = () => {
    const width = Math.max(260, holder.clientWidth - 20);
    if (width !== plot.width) plot.setSize({ width, height: plot.height });
  };
  new ResizeObserver(fit).observe(holder);
}
