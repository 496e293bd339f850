// The Uptake dashboard: one page that reads the public /v1 KPI API with
// the read key the user enters once (kept in localStorage).
import "./style.css";
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";

Chart.register(
  ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend,
  LinearScale, LineController, LineElement, PointElement, Tooltip,
);
// No animation: a chart is drawn when it is made, on slow phones too.
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

const KEY_STORE = "uptake.readKey";

// ------------------------------------------------------------------ API

interface Answer {
  kpi: string;
  from: string;
  to: string;
  value: number | null;
  numerator: number;
  denominator: number;
  details: Record<string, any>;
  series?: { period: string; value: number | null; details: Record<string, any> }[];
  breakdown?: { key: string; value: number | null; numerator: number; denominator: number; details: Record<string, any> }[];
  complete: boolean;
}

class APIError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

async function kpi(id: string, params: Record<string, string | undefined>, key: string): Promise<Answer> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== "") q.append(k, v);
  }
  const resp = await fetch(`/v1/kpis/${encodeURIComponent(id)}?${q}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    const msg = body?.error?.message ?? `HTTP ${resp.status}`;
    throw new APIError(resp.status, `${id}: ${msg}`);
  }
  return body as Answer;
}

// ------------------------------------------------------------- numbers

// fmt shows a number with at most one decimal (half away from zero), the
// way the tiles and the browser test agree on.
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const r = (Math.sign(v) * Math.round(Math.abs(v) * 10)) / 10;
  return r === 0 ? "0" : String(r);
}

function pct(v: number | null | undefined): string {
  const s = fmt(v);
  return s === "–" ? s : `${s}%`;
}

function signed(v: number): string {
  const s = fmt(v);
  return v > 0 && s !== "0" ? `+${s}` : s;
}

const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const plural = (n: number | undefined, one: string, many: string) => `${n ?? 0} ${n === 1 ? one : many}`;

// ---------------------------------------------------------------- dates

const day = (d: Date) => d.toISOString().slice(0, 10);
const parseDay = (s: string) => new Date(`${s}T00:00:00Z`);
const addDays = (s: string, n: number) => {
  const d = parseDay(s);
  d.setUTCDate(d.getUTCDate() + n);
  return day(d);
};
const spanDays = (from: string, to: string) => Math.round((parseDay(to).getTime() - parseDay(from).getTime()) / 86400000) + 1;

// ------------------------------------------------------------- the view

interface View {
  from: string;
  to: string;
  interval: string;
  segment: string;
}

// The KPIs that take a trait segment (identify/group traits), api.md's
// "KPIs that count users, visitors or respondents".
const SEGMENTED = new Set(["dau", "stickiness", "nps", "csat", "ces", "retention_cohorts"]);

interface Tile {
  id: string;
  label: string;
  unit: string;
  // changeUnit is how a change reads: "pts" for percentages.
  changeUnit: string;
  // extra are the parameters the page's other panels need from the same answer.
  extra?: (v: View) => Record<string, string>;
  sub: (a: Answer) => string;
  // higherIsBetter colours the change.
  higherIsBetter: boolean;
}

const TILES: Tile[] = [
  { id: "dau", label: "DAU", unit: "", changeUnit: "", higherIsBetter: true, extra: (v) => ({ interval: v.interval }),
    sub: (a) => `new ${fmt(a.details.new)} · returning ${fmt(a.details.returning)} a day` },
  { id: "stickiness", label: "Stickiness", unit: "%", changeUnit: "pts", higherIsBetter: true,
    sub: (a) => `DAU ${fmt(a.details.mean_dau)} ÷ MAU ${fmt(a.details.mean_mau)}` },
  { id: "nps", label: "NPS", unit: "", changeUnit: "", higherIsBetter: true, extra: (v) => ({ interval: v.interval }),
    sub: (a) => plural(a.details.responses, "response", "responses") },
  { id: "csat", label: "CSAT", unit: "%", changeUnit: "pts", higherIsBetter: true, extra: () => ({ breakdown: "channel" }),
    sub: (a) => `${a.details.positive ?? 0} of ${a.details.responses ?? 0} positive` },
  { id: "ces", label: "CES", unit: "", changeUnit: "", higherIsBetter: true,
    sub: (a) => `of ${a.details.scale_min ?? 1}–${a.details.scale_max ?? 5} · ${plural(a.details.responses, "response", "responses")}` },
  { id: "churn_rate", label: "Churn", unit: "%", changeUnit: "pts", higherIsBetter: false,
    sub: (a) => `${a.details.lost ?? 0} of ${a.details.customers_at_start ?? 0} customers · revenue ${pct(a.details.revenue_churn_pct)}` },
  { id: "customer_retention_rate", label: "Retention", unit: "%", changeUnit: "pts", higherIsBetter: true,
    sub: (a) => `start ${a.details.S ?? 0} · end ${a.details.E ?? 0} · new ${a.details.N ?? 0}` },
  { id: "onboarding_completion_rate", label: "Onboarding completion", unit: "%", changeUnit: "pts", higherIsBetter: true,
    sub: (a) => `${a.details.completed ?? 0} of ${a.details.signed_up ?? 0} signups` },
  { id: "time_to_first_value", label: "Time to first value", unit: "h", changeUnit: "h", higherIsBetter: false,
    sub: (a) => `median · p90 ${fmt(a.details.p90_hours)} h · ${a.details.reached ?? 0} reached` },
  { id: "first_response_time", label: "First response", unit: "min", changeUnit: "min", higherIsBetter: false,
    extra: () => ({ breakdown: "channel" }),
    sub: (a) => `mean · median ${fmt(a.details.median_minutes)} min · ${plural(a.details.tickets, "ticket", "tickets")}` },
];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function setState(state: "start" | "key" | "loading" | "ready" | "error", message = "") {
  document.body.dataset.state = state;
  $("status").textContent = message;
}

// ------------------------------------------------------------ charts

const charts = new Map<string, Chart>();

function draw(id: string, config: ChartConfiguration) {
  charts.get(id)?.destroy();
  const canvas = $<HTMLCanvasElement>(id);
  const chart = new Chart(canvas, config);
  charts.set(id, chart);
  // How many values the chart holds, for the browser test.
  canvas.dataset.points = String(config.data.datasets.reduce((n, d) => n + d.data.filter((x) => x !== null).length, 0));
}

const COLORS = { blue: "#2563eb", green: "#16a34a", amber: "#d97706", red: "#dc2626", grey: "#9ca3af", teal: "#0d9488" };

// --------------------------------------------------------------- panels

function renderTiles(view: View, now: Map<string, Answer>, before: Map<string, Answer>) {
  const box = $("tiles");
  box.replaceChildren();
  for (const t of TILES) {
    const a = now.get(t.id)!;
    const p = before.get(t.id);
    const change = a.value !== null && p && p.value !== null ? a.value - p.value : null;
    let cls = "change";
    if (change !== null && change !== 0) cls += (change > 0) === t.higherIsBetter ? " good" : " bad";
    const changeText = change === null ? "–" : signed(change);
    const tile = el("div", { class: "tile", "data-kpi": t.id },
      el("div", { class: "label" }, t.label),
      el("div", { class: "figure" }, el("span", { class: "value" }, fmt(a.value)), el("span", { class: "unit" }, a.value === null ? "" : t.unit)),
      el("div", { class: cls }, el("span", { class: "delta" }, changeText),
        el("span", { class: "unit" }, change === null ? " no previous data" : ` ${t.changeUnit} vs previous ${spanDays(view.from, view.to)} days`.replace("  ", " "))),
      el("div", { class: "sub" }, t.sub(a) + (view.segment && !SEGMENTED.has(t.id) ? " · all segments" : "")),
    );
    box.append(tile);
  }
}

function renderDAU(a: Answer) {
  const s = a.series ?? [];
  draw("chart-dau", {
    type: "line",
    data: { labels: s.map((p) => p.period), datasets: [{ label: "DAU", data: s.map((p) => p.value), borderColor: COLORS.blue, backgroundColor: COLORS.blue, tension: 0.2 }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
}

function renderNPS(a: Answer) {
  const s = a.series ?? [];
  draw("chart-nps", {
    type: "line",
    data: { labels: s.map((p) => p.period), datasets: [{ label: "NPS", data: s.map((p) => p.value), borderColor: COLORS.teal, backgroundColor: COLORS.teal, spanGaps: true }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { min: -100, max: 100 } } },
  });
  const d = a.details;
  draw("chart-nps-dist", {
    type: "doughnut",
    data: {
      labels: [`Promoters ${fmt(d.promoters_pct)}%`, `Passives ${fmt(d.passives_pct)}%`, `Detractors ${fmt(d.detractors_pct)}%`],
      datasets: [{ data: [d.promoters ?? 0, d.passives ?? 0, d.detractors ?? 0], backgroundColor: [COLORS.green, COLORS.grey, COLORS.red] }],
    },
    options: { plugins: { legend: { position: "right" } } },
  });
}

function table(id: string, head: string[], rows: (string | Node)[][], empty: string) {
  const t = $<HTMLTableElement>(id);
  t.replaceChildren();
  if (rows.length === 0) {
    t.append(el("caption", {}, empty));
    return;
  }
  t.append(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))));
  t.append(el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
}

function renderFunnel(funnel: Answer, paths: Answer) {
  const steps: any[] = funnel.details.steps ?? [];
  const labels = ["Signed up", ...steps.map((s) => s.name || `Step ${s.step}`)];
  draw("chart-funnel", {
    type: "bar",
    data: { labels, datasets: [{ label: "Users", data: [funnel.details.signed_up ?? 0, ...steps.map((s) => s.reached)], backgroundColor: COLORS.blue }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
  });
  table("funnel-table", ["Step", "Reached", "Conversion", "Drop-off", "Median h"],
    steps.map((s) => [s.name || `Step ${s.step}`, String(s.reached), `${fmt(s.conversion_pct)}%`, `${s.dropoff} (${fmt(s.dropoff_pct)}%)`, fmt(s.median_hours)]),
    (funnel.details.signed_up ?? 0) > 0 ? "No onboarding steps are configured (onboarding_steps in PUT /v1/config)." : "No signups in this range.");
  const stopped: any[] = paths.details.stopped ?? [];
  const names = ["Signed up", ...steps.map((s) => s.name || `Step ${s.step}`)];
  table("paths-table", ["Stopped after", "Users", "Then went to"],
    stopped.map((s) => [names[s.stopped_at] ?? `Step ${s.stopped_at}`, String(s.users),
      (s.next ?? []).map((n: any) => `${n.path} (${n.count})`).join(", ") || "–"]),
    "Nobody dropped off in this range.");
}

function renderCohorts(a: Answer) {
  const t = $<HTMLTableElement>("cohorts");
  t.replaceChildren();
  const cohorts: any[] = a.details.cohorts ?? [];
  if (cohorts.length === 0) {
    t.append(el("caption", {}, "No signups in this range."));
    return;
  }
  const periods = Math.max(...cohorts.map((c) => c.pct.length));
  t.append(el("thead", {}, el("tr", {}, el("th", {}, "Cohort"), el("th", {}, "Users"), ...Array.from({ length: periods }, (_, i) => el("th", {}, String(i))))));
  const cell = (v: number | null) => {
    const td = el("td", {}, v === null || v === undefined ? "" : fmt(v));
    if (v !== null && v !== undefined) {
      td.style.backgroundColor = `rgba(37, 99, 235, ${0.08 + (0.85 * v) / 100})`;
      if (v > 55) td.classList.add("dark");
    }
    return td;
  };
  const body = el("tbody");
  for (const c of cohorts) body.append(el("tr", {}, el("th", {}, c.cohort), el("td", {}, String(c.size)), ...c.pct.map(cell)));
  const avg: (number | null)[] = a.details.average_pct ?? [];
  body.append(el("tr", { class: "avg" }, el("th", {}, "Average"), el("td", {}, String(cohorts.reduce((n, c) => n + c.size, 0))), ...avg.map(cell)));
  t.append(body);
}

function renderCSAT(a: Answer) {
  const rows = a.breakdown ?? [];
  draw("chart-csat", {
    type: "bar",
    data: { labels: rows.map((r) => r.key), datasets: [{ label: "CSAT %", data: rows.map((r) => r.value), backgroundColor: COLORS.green }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { min: 0, max: 100 } } },
  });
}

function renderTickets(first: Answer, resolution: Answer) {
  const keys = [...new Set([...(first.breakdown ?? []), ...(resolution.breakdown ?? [])].map((r) => r.key))].sort();
  const by = (a: Answer) => new Map((a.breakdown ?? []).map((r) => [r.key, r]));
  const f = by(first);
  const r = by(resolution);
  draw("chart-tickets", {
    type: "bar",
    data: {
      labels: keys,
      datasets: [
        { label: "First response, median min", data: keys.map((k) => f.get(k)?.details.median_minutes ?? null), backgroundColor: COLORS.blue, yAxisID: "y" },
        { label: "Resolution, median h", data: keys.map((k) => r.get(k)?.details.median_hours ?? null), backgroundColor: COLORS.amber, yAxisID: "y1" },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, position: "left", title: { display: true, text: "minutes" } },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "hours" } },
      },
    },
  });
  table("tickets-table", ["Channel", "Answered", "First response (mean / median min)", "Resolved", "Resolution (mean / median h)"],
    keys.map((k) => {
      const a = f.get(k)?.details ?? {};
      const b = r.get(k)?.details ?? {};
      return [k, String(a.tickets ?? 0), `${fmt(a.mean_minutes)} / ${fmt(a.median_minutes)}`, String(b.tickets ?? 0), `${fmt(b.mean_hours)} / ${fmt(b.median_hours)}`];
    }),
    "No tickets in this range.");
}

function renderHealth(a: Answer) {
  const accounts: any[] = a.details.accounts ?? [];
  const risk: any[] = a.details.at_risk ?? [];
  const row = (x: any) => [String(x.account), fmt(x.score), x.previous_score === null || x.previous_score === undefined ? "–" : fmt(x.previous_score),
    x.change === null || x.change === undefined ? "–" : signed(x.change), String(x.open_urgent_tickets ?? 0)];
  const head = ["Account", "Health", "30 days ago", "Change", "Open urgent tickets"];
  table("risk-table", head, risk.map(row), `No account at risk on ${a.details.day ?? a.to}.`);
  table("health-table", head, [...accounts].sort((x, y) => x.score - y.score).slice(0, 5).map(row), "No accounts.");
}

// ------------------------------------------------------------------ ROI

const ROI_FIELDS = ["new_customers", "completion_now", "completion_target", "renewal_completed", "renewal_not_completed", "contract_value"];
// Seed 000's example: 1000 customers, 60% → 85% completion, 90% / 60% renewal, $5,000.
const ROI_EXAMPLE: Record<string, string> = {
  new_customers: "1000", completion_now: "60", completion_target: "85", renewal_completed: "90", renewal_not_completed: "60", contract_value: "5000",
};

function roiInput(name: string) {
  return $<HTMLFormElement>("roi").elements.namedItem(name) as HTMLInputElement;
}

// prefillROI fills the calculator with the tenant's observed rates.
function prefillROI(a: Answer) {
  const inputs = a.details.inputs ?? {};
  const observed: string[] = [];
  if (inputs.completion_now_source && inputs.completion_now_source !== "given") {
    roiInput("completion_now").value = String(inputs.completion_now);
    observed.push(`completion now ${fmt(inputs.completion_now)}%`);
  }
  for (const k of ["renewal_completed", "renewal_not_completed"]) {
    if (inputs.renewal_source?.[k]?.startsWith("observed")) {
      roiInput(k).value = String(inputs[k]);
      observed.push(`${k.replace(/_/g, " ")} ${fmt(inputs[k])}%`);
    }
  }
  $("roi-note").textContent = observed.length
    ? `Prefilled with this range's observed ${observed.join(", ")}.`
    : "This range has no observed onboarding or renewal rates: enter them.";
  $("roi-out").replaceChildren();
}

async function runROI(view: View, key: string) {
  const params: Record<string, string> = { from: view.from, to: view.to };
  for (const f of ROI_FIELDS) params[f] = roiInput(f).value;
  const out = $("roi-out");
  try {
    const a = await kpi("roi_projection", params, key);
    const d = a.details;
    const item = (k: string, v: string, id: string) => [el("dt", {}, k), el("dd", { "data-roi": id }, v)];
    out.replaceChildren(
      ...item("Renewals now", `${count.format(d.renewals_now)} (${fmt(d.renewal_rate_now_pct)}%)`, "renewals_now"),
      ...item("Renewals at target", `${count.format(d.renewals_target)} (${fmt(d.renewal_rate_target_pct)}%)`, "renewals_target"),
      ...item("Added renewals", `+${count.format(d.added_renewals)}`, "added_renewals"),
      ...item("Retained revenue", money.format(d.retained_revenue), "retained_revenue"),
    );
  } catch (e) {
    out.replaceChildren(el("dt", {}, "Error"), el("dd", {}, (e as Error).message));
  }
}

// ---------------------------------------------------------------- load

let current: View | null = null;

function readView(): View {
  return {
    from: $<HTMLInputElement>("from").value,
    to: $<HTMLInputElement>("to").value,
    interval: $<HTMLSelectElement>("interval").value,
    segment: $<HTMLInputElement>("segment").value.trim(),
  };
}

function writeView(v: View) {
  $<HTMLInputElement>("from").value = v.from;
  $<HTMLInputElement>("to").value = v.to;
  $<HTMLSelectElement>("interval").value = v.interval;
  $<HTMLInputElement>("segment").value = v.segment;
  const q = new URLSearchParams({ from: v.from, to: v.to, interval: v.interval });
  if (v.segment) q.set("segment", v.segment);
  history.replaceState(null, "", `#${q}`);
}

function viewFromHash(): View | null {
  const q = new URLSearchParams(location.hash.slice(1));
  const from = q.get("from") ?? "";
  const to = q.get("to") ?? "";
  if (!/^\d{4}-\d{2}-\d{2}$/.test(from) || !/^\d{4}-\d{2}-\d{2}$/.test(to)) return null;
  return { from, to, interval: q.get("interval") ?? "week", segment: q.get("segment") ?? "" };
}

// defaultView is the 30 days up to the latest day with active users in
// the past year (the walk-through's data is older than today).
async function defaultView(key: string): Promise<View> {
  const today = day(new Date());
  let to = addDays(today, -1);
  const months = await kpi("dau", { from: addDays(to, -364), to, interval: "month" }, key);
  const active = (months.series ?? []).filter((p) => (p.value ?? 0) > 0);
  if (active.length > 0) {
    const last = active[active.length - 1];
    const end = addDays(last.period, 31);
    const days = await kpi("dau", { from: last.period, to: end < to ? end : to, interval: "day" }, key);
    const d = (days.series ?? []).filter((p) => (p.value ?? 0) > 0);
    if (d.length > 0) to = d[d.length - 1].period;
  }
  return { from: addDays(to, -29), to, interval: "week", segment: "" };
}

async function load(view: View, key: string) {
  writeView(view);
  current = view;
  setState("loading", `Loading ${view.from} to ${view.to}…`);
  $("dashboard").hidden = false;
  const n = spanDays(view.from, view.to);
  const prev = { from: addDays(view.from, -n), to: addDays(view.from, -1) };
  const seg = (id: string) => (view.segment && SEGMENTED.has(id) ? `${view.segment}` : undefined);
  const range = (id: string, r: { from: string; to: string }, extra: Record<string, string> = {}) =>
    kpi(id, { from: r.from, to: r.to, filter: seg(id), ...extra }, key);
  try {
    const [now, before, funnel, paths, cohorts, resolution, roi, health] = await Promise.all([
      Promise.all(TILES.map((t) => range(t.id, view, t.extra?.(view)))),
      Promise.all(TILES.map((t) => range(t.id, prev))),
      range("onboarding_funnel", view),
      range("dropoff_paths", view),
      range("retention_cohorts", view, { interval: view.interval }),
      range("resolution_time", view, { breakdown: "channel" }),
      range("roi_projection", view),
      range("health_score", view),
    ]);
    if (current !== view) return; // a newer range was asked for meanwhile
    const nowBy = new Map(now.map((a) => [a.kpi, a]));
    const beforeBy = new Map(before.map((a) => [a.kpi, a]));
    renderTiles(view, nowBy, beforeBy);
    document.querySelectorAll(".ivl").forEach((e) => (e.textContent = view.interval));
    renderDAU(nowBy.get("dau")!);
    renderNPS(nowBy.get("nps")!);
    renderFunnel(funnel, paths);
    renderCohorts(cohorts);
    renderCSAT(nowBy.get("csat")!);
    renderTickets(nowBy.get("first_response_time")!, resolution);
    prefillROI(roi);
    renderHealth(health);
    const incomplete = now.some((a) => !a.complete);
    $("rangenote").textContent = `${view.from} to ${view.to} (${n} days), compared with ${prev.from} to ${prev.to}` +
      (view.segment ? `; segment ${view.segment} where the KPI takes it` : "") +
      (incomplete ? ". Some days are not aggregated yet: figures may change." : ".");
    document.body.dataset.range = `${view.from}..${view.to}|${view.segment}`;
    setState("ready");
  } catch (e) {
    if (current !== view) return;
    if (e instanceof APIError && (e.status === 401 || e.status === 403)) {
      localStorage.removeItem(KEY_STORE);
      askKey("That key was refused: enter the tenant's read key.");
      return;
    }
    setState("error", (e as Error).message);
  }
}

function askKey(message = "") {
  $("dashboard").hidden = true;
  $("filters").hidden = true;
  $("keyform").hidden = false;
  setState("key", message);
  $<HTMLInputElement>("key").focus();
}

async function open(key: string) {
  $("keyform").hidden = true;
  $("filters").hidden = false;
  try {
    const view = viewFromHash() ?? (await defaultView(key));
    await load(view, key);
  } catch (e) {
    if (e instanceof APIError && (e.status === 401 || e.status === 403)) {
      localStorage.removeItem(KEY_STORE);
      askKey("That key was refused: enter the tenant's read key.");
      return;
    }
    setState("error", (e as Error).message);
  }
}

function main() {
  $("keyform").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $<HTMLInputElement>("key").value.trim();
    if (!key) return;
    localStorage.setItem(KEY_STORE, key);
    $<HTMLInputElement>("key").value = "";
    void open(key);
  });
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = localStorage.getItem(KEY_STORE);
    const v = readView();
    if (!key) return askKey();
    if (v.from > v.to) return setState("error", "From must not be after To.");
    if (v.segment && !/^[^:]+:.*$/.test(v.segment)) return setState("error", "Segment must be trait:value, e.g. plan:pro.");
    void load(v, key);
  });
  $("forget").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORE);
    askKey();
  });
  $("roi").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = localStorage.getItem(KEY_STORE);
    if (key && current) void runROI(current, key);
  });
  $("roi-example").addEventListener("click", () => {
    for (const f of ROI_FIELDS) roiInput(f).value = ROI_EXAMPLE[f];
  });
  const key = localStorage.getItem(KEY_STORE);
  if (key) void open(key);
  else askKey();
}

main();
