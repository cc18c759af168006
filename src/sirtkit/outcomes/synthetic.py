"""A seeded synthetic NELM radioembolization cohort in the template tables (no patient data).

The generator is for tests, documentation and the demo. Its model is deliberately simple and *made up*
(it is not fitted to any series): lesion response is a logistic function of tumour absorbed dose,
survival is exponential with proportional effects of Child-Pugh class B, lymph-node metastases and
ECOG ≥ 1, toxicity grade ≥ 3 rises with the normal-liver dose.

>>> data = synthetic_cohort(20, rng=1)
>>> data.n_patients, sorted(data.treatments["device"].unique()) == sorted(
...     set(data.treatments["device"]))
(20, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sirtkit.errors import InputError
from sirtkit.outcomes.cohort import DAYS_PER_MONTH, CohortData, validate_cohort

__all__ = ["SYNTHETIC_ASSESSMENT_MONTHS", "synthetic_cohort"]

#: Follow-up imaging schedule of the synthetic cohort (months after first SIRT; made up).
SYNTHETIC_ASSESSMENT_MONTHS = (3.0, 6.0, 9.0, 12.0, 18.0, 24.0, 36.0)
#: Synthetic model parameters (made up, not clinical data).
_MEDIAN_OS_MONTHS = 36.0
_MEDIAN_PFS_MONTHS = 14.0
_LOG_HR = {"child_pugh_b": np.log(2.0), "lymph_node": np.log(1.5), "ecog": np.log(1.6)}
_DOSE50_GY = 120.0  # tumour dose with 50 % lesion response probability in the synthetic model
_DOSE_SLOPE = 2.5


def synthetic_cohort(n_patients: int = 200, rng: np.random.Generator | int | None = None) -> CohortData:
    """Generate a validated synthetic cohort.

    Parameters
    ----------
    n_patients : int
        Number of patients (1 to 1 000 000).
    rng : numpy.random.Generator, int or None
        Random generator or seed; the same seed gives the same cohort.

    Returns
    -------
    CohortData
        All eight template tables.

    Raises
    ------
    InputError
        If ``n_patients`` is out of range.
    """
    if not 1 <= n_patients <= 1_000_000:
        raise InputError(f"n_patients = {n_patients}: give 1 to 1 000 000")
    g = np.random.default_rng(rng)
    n = int(n_patients)
    width = max(4, len(str(n)))
    pid = np.array([f"SYN{i:0{width}d}" for i in range(1, n + 1)], dtype=object)

    # --- patients
    cp_b = g.random(n) < 0.15
    ln = g.random(n) < 0.4
    ecog = g.choice([0, 1, 2], size=n, p=[0.55, 0.35, 0.10])
    patients = pd.DataFrame({
        "patient_id": pid,
        "age_years": np.round(np.clip(g.normal(62, 10, n), 25, 90), 0),
        "sex": g.choice(["F", "M"], size=n),
        "primary_site": g.choice(["pancreas", "foregut", "midgut", "hindgut", "unknown"], size=n,
                                 p=[0.3, 0.1, 0.45, 0.05, 0.1]),
        "tumour_grade": g.choice(["G1", "G2", "G3"], size=n, p=[0.4, 0.5, 0.1]),
        "ki67_percent": np.round(np.clip(g.lognormal(np.log(5), 0.8, n), 0.5, 60), 1),
        "ecog": ecog,
        "child_pugh_class": np.where(cp_b, "B", "A"),
        "lymph_node_metastases": ln,
        "extrahepatic_disease": g.random(n) < 0.35,
        "hepatic_tumour_burden_percent": np.round(np.clip(g.gamma(2.0, 10.0, n), 1, 90), 0),
        "prior_prrt": g.random(n) < 0.25,
        "carcinoid_syndrome": g.random(n) < 0.4,
    })

    # --- treatments (1 or 2 sessions)
    start = np.datetime64("2014-01-01") + g.integers(0, 6 * 365, n).astype("timedelta64[D]")
    two = g.random(n) < 0.2
    device = g.choice(["glass", "resin", "holmium"], size=n, p=[0.45, 0.45, 0.10])
    nl_dose = np.round(np.clip(g.lognormal(np.log(28), 0.45, n), 3, 120), 1)
    t_pid = np.concatenate([pid, pid[two]])
    t_date = np.concatenate([start, start[two] + g.integers(28, 70, two.sum()).astype("timedelta64[D]")])
    treatments = pd.DataFrame({
        "patient_id": t_pid, "treatment_date": t_date,
        "device": np.concatenate([device, device[two]]),
        "activity_gbq": np.round(np.clip(g.normal(1.8, 0.6, t_pid.size), 0.3, 8), 2),
        "territory": np.concatenate([np.where(two, "right_lobe", "whole_liver"), np.full(two.sum(), "left_lobe")]),
        "normal_liver_dose_gy": np.concatenate([nl_dose, nl_dose[two]]),
    })

    # --- survival model
    lp = _LOG_HR["child_pugh_b"] * cp_b + _LOG_HR["lymph_node"] * ln + _LOG_HR["ecog"] * (ecog >= 1)
    os_m = g.exponential(1.0, n) * _MEDIAN_OS_MONTHS / np.log(2) / np.exp(lp)
    study_end_m = (np.datetime64("2021-06-30") - start).astype(float) / DAYS_PER_MONTH
    dropout_m = g.exponential(120.0, n)
    censor_m = np.minimum(study_end_m, dropout_m)

    # a second session only for patients alive and followed at its date
    end_days = np.floor(np.minimum(os_m, censor_m) * DAYS_PER_MONTH)
    second_ok = np.ones(len(treatments), bool)
    second_ok[n:] = (t_date[n:] - start[two]).astype(float) < end_days[two]
    treatments = treatments[second_ok].reset_index(drop=True)

    # --- lesions: 1-4 liver lesions (at most 2 targets), 20 % a nodal target, 0-2 non-targets
    n_liver = g.integers(1, 5, n)
    node_t = ln & (g.random(n) < 0.5)
    n_nt = g.integers(0, 3, n)
    n_les = n_liver + node_t + n_nt
    l_pat = np.repeat(np.arange(n), n_les)
    l_idx = np.concatenate([np.arange(k) for k in n_les]) if n else np.array([], int)
    is_node = np.zeros(l_pat.size, bool)
    role = np.full(l_pat.size, "target", dtype=object)
    offs = np.cumsum(n_les) - n_les
    node_pos = offs[node_t] + n_liver[node_t]
    is_node[node_pos] = True
    # RECIST 1.1 §3.3.1: at most 2 targets per organ, so a third and fourth liver lesion are non-targets
    nt_mask = (l_idx >= (n_liver + node_t)[l_pat]) | ((l_idx >= 2) & (l_idx < n_liver[l_pat]))
    role[nt_mask] = "non_target"
    dose = np.round(np.clip(g.lognormal(np.log(140), 0.7, l_pat.size), 5, 2000), 1)
    dose[is_node | nt_mask] = np.nan
    organ = np.where(is_node, "lymph_node", "liver").astype(object)
    organ[nt_mask] = g.choice(["liver", "bone", "lymph_node"], size=int(nt_mask.sum()))
    p_resp = 1.0 / (1.0 + np.exp(-_DOSE_SLOPE * (np.log(np.nan_to_num(dose, nan=60.0)) - np.log(_DOSE50_GY))))
    responder = g.random(l_pat.size) < p_resp
    delta = np.where(responder, -g.uniform(0.35, 0.9, l_pat.size), g.uniform(-0.2, 0.1, l_pat.size))
    d0 = np.where(is_node, g.uniform(15, 30, l_pat.size), g.uniform(12, 70, l_pat.size))
    # patient-level progression hazard lower when most lesions respond
    resp_frac = np.bincount(l_pat, weights=responder.astype(float), minlength=n) / np.maximum(n_les, 1)
    pfs_m = g.exponential(1.0, n) * _MEDIAN_PFS_MONTHS / np.log(2) / np.exp(0.8 * lp - 0.8 * resp_frac)
    prog_m = np.minimum(pfs_m, os_m * 0.95)
    # site of the first progression: the lesions of that site grow (and new lesions appear there)
    prog_kind = np.where(g.random(n) < 0.7, "hepatic_progression", "extrahepatic_progression")
    hep_prog = prog_kind == "hepatic_progression"

    # --- assessments: baseline (-5..-30 d) and schedule until min(death, censor)
    sched = np.array(SYNTHETIC_ASSESSMENT_MONTHS)
    end_m = np.minimum(os_m, censor_m)
    visits = sched[None, :] <= end_m[:, None]
    # no scans after the first scan at/after progression
    after = sched[None, :] >= prog_m[:, None]
    first_after = np.where(after.any(axis=1), after.argmax(axis=1), sched.size)
    visits &= np.arange(sched.size)[None, :] <= first_after[:, None]
    base_off = g.integers(5, 29, n)  # baseline 5-28 days before SIRT (RECIST 1.1 §3.2: never more than 4 weeks)
    lesion_rows = []
    v_pat, v_k = np.nonzero(visits)
    # baseline rows
    bl = pd.DataFrame({"li": np.arange(l_pat.size), "t_m": 0.0, "k": -1})
    lesion_rows.append(bl)
    # follow-up rows: every lesion of the patient at each visit
    if v_pat.size:
        li = _expand_lesions(l_pat, n, v_pat)
        vk = np.repeat(v_k, n_les[v_pat])
        lesion_rows.append(pd.DataFrame({"li": li, "t_m": sched[vk], "k": vk}))
    mr = pd.concat(lesion_rows, ignore_index=True)
    li = mr["li"].to_numpy()
    p_of = l_pat[li]
    t_m = mr["t_m"].to_numpy()
    frac = np.minimum(t_m / 6.0, 1.0)
    diam = d0[li] * (1.0 + delta[li] * frac)
    at_site = np.where(hep_prog[p_of], organ[li] == "liver", organ[li] != "liver")
    progressed = (t_m >= prog_m[p_of]) & (t_m > 0) & at_site
    diam = np.where(progressed, np.maximum(diam, 5.0) * 1.45 + 6.0, diam)
    gone = (~is_node[li]) & (delta[li] < -0.85) & (frac >= 1.0) & ~progressed
    diam = np.where(gone, 0.0, diam)
    is_base = t_m == 0
    days = np.round(t_m * DAYS_PER_MONTH).astype(int) - np.where(is_base, base_off[p_of], 0)
    m_date = start[p_of] + days.astype("timedelta64[D]")
    nt_row = role[li] == "non_target"
    status = np.where(progressed & (g.random(li.size) < 0.5), "progression", "present").astype(object)
    status[~nt_row] = None
    viable = np.clip(1.0 - 0.9 * (-np.minimum(delta[li], 0)) * frac, 0.05, 1.0)
    measurements = pd.DataFrame({
        "patient_id": pid[p_of], "lesion_id": np.char.add("L", (l_idx[li] + 1).astype(str)).astype(object),
        "date": m_date,
        "diameter_mm": np.where(nt_row, np.nan, np.round(diam, 1)),
        "perpendicular_mm": np.where(nt_row, np.nan, np.round(diam * 0.8, 1)),
        "viable_diameter_mm": np.where(nt_row, np.nan, np.round(diam * viable, 1)),
        "viable_perpendicular_mm": np.where(nt_row, np.nan, np.round(diam * 0.8 * viable, 1)),
        "attenuation_hu": np.where(nt_row, np.nan, np.round(g.normal(85, 8, li.size) * (1 + 0.4 * np.minimum(
            delta[li], 0) * frac), 0)),
        "non_target_status": status,
    })
    lesions = pd.DataFrame({
        "patient_id": pid[l_pat], "lesion_id": np.char.add("L", (l_idx + 1).astype(str)).astype(object),
        "role": role, "organ": organ, "is_lymph_node": is_node | (organ == "lymph_node"),
        "tumour_dose_gy": dose,
    })
    # new lesions at the progression scan: in the liver for a third of hepatic progressions, outside the
    # liver for every extrahepatic progression (so that imaging shows where the disease progressed)
    prog_scan = first_after < sched.size
    prog_scan &= visits[np.arange(n), np.minimum(first_after, sched.size - 1)]
    new_p = np.flatnonzero(prog_scan & ((g.random(n) < 0.33) | ~hep_prog))
    if new_p.size:
        new_id = np.char.add("N", np.ones(new_p.size, int).astype(str)).astype(object)
        new_organ = np.where(hep_prog[new_p], "liver", g.choice(["bone", "lymph_node", "lung"], size=new_p.size))
        lesions = pd.concat([lesions, pd.DataFrame({
            "patient_id": pid[new_p], "lesion_id": new_id, "role": "new", "organ": new_organ.astype(object),
            "is_lymph_node": new_organ == "lymph_node", "tumour_dose_gy": np.nan})], ignore_index=True)
        nd = start[new_p] + np.round(sched[first_after[new_p]] * DAYS_PER_MONTH).astype("timedelta64[D]")
        measurements = pd.concat([measurements, pd.DataFrame({
            "patient_id": pid[new_p], "lesion_id": new_id, "date": nd,
            "diameter_mm": np.round(g.uniform(10, 30, new_p.size), 1)})], ignore_index=True)

    # --- events
    death = os_m <= censor_m
    has_prog = prog_m <= np.minimum(os_m, censor_m)
    scan_prog_m = np.where(prog_scan, sched[np.minimum(first_after, sched.size - 1)], prog_m)
    prog_date_m = np.minimum(scan_prog_m, np.minimum(os_m, censor_m))

    def at(months: np.ndarray) -> np.ndarray:
        return start_sel + np.round(months * DAYS_PER_MONTH).astype("timedelta64[D]")

    ev_parts = []
    start_sel = start[has_prog]
    ev_parts.append(pd.DataFrame({"patient_id": pid[has_prog], "date": at(prog_date_m[has_prog]),
                                  "event": prog_kind[has_prog]}))
    start_sel = start[death]
    ev_parts.append(pd.DataFrame({"patient_id": pid[death], "date": at(os_m[death]), "event": "death"}))
    alive = ~death
    start_sel = start[alive]
    ev_parts.append(pd.DataFrame({"patient_id": pid[alive], "date": at(censor_m[alive]),
                                  "event": "last_follow_up"}))
    events = pd.concat(ev_parts, ignore_index=True)

    # --- labs: baseline and 1 and 3 months (if alive)
    lab_m = np.array([0.0, 1.0, 3.0])
    lab_ok = lab_m[None, :] <= end_m[:, None]
    lp_, lk = np.nonzero(lab_ok)
    lab_date = start[lp_] + (np.round(lab_m[lk] * DAYS_PER_MONTH) - (lk == 0) * 7).astype("timedelta64[D]")
    tox_push = np.where(lk > 0, np.clip((nl_dose[lp_] - 20) / 40, 0, None), 0.0)
    specs = [("bilirubin", "mg/dL", 0.6, 0.45, 1.2, np.nan), ("ast", "U/L", 30, 0.4, 40, np.nan),
             ("alt", "U/L", 28, 0.4, 40, np.nan), ("alp", "U/L", 110, 0.4, 120, np.nan),
             ("albumin", "g/dL", 4.0, 0.1, np.nan, 3.5), ("platelets", "10^9/L", 230, 0.3, np.nan, 150),
             ("cga", "ng/mL", 400, 1.2, 100, np.nan), ("5hiaa", "mg/24h", 30, 1.0, 8, np.nan)]
    lab_frames = []
    resp_p = resp_frac[lp_]
    for test, unit, med, sd, uln, lln in specs:
        val = g.lognormal(np.log(med), sd, lp_.size)
        if test in ("bilirubin", "ast", "alt", "alp"):
            val = val * (1 + 1.5 * tox_push * g.random(lp_.size))
        elif test == "albumin":
            val = val * (1 - 0.15 * np.minimum(tox_push, 1.5) * g.random(lp_.size))
        elif test in ("cga", "5hiaa"):
            val = val * np.where(lk > 0, np.exp(-1.2 * resp_p * lk / 3.0 + g.normal(0, 0.2, lp_.size)), 1.0)
        lab_frames.append(pd.DataFrame({"patient_id": pid[lp_], "date": lab_date, "test": test,
                                        "value": np.round(val, 2), "unit": unit, "uln": uln, "lln": lln}))
    labs = pd.concat(lab_frames, ignore_index=True)

    # --- toxicities (worst grade per term)
    terms = [("fatigue", 0.6), ("nausea", 0.4), ("vomiting", 0.3), ("abdominal_pain", 0.25), ("anorexia", 0.35),
             ("fever", 0.1), ("ascites", 0.05), ("gastric_ulcer", 0.03), ("reild", 0.02)]
    tox_frames = []
    nl_push = np.clip((nl_dose - 20) / 40, 0, None)
    for term, p in terms:
        hit = g.random(n) < p * (1 + nl_push if term in ("ascites", "reild") else 1)
        k = int(hit.sum())
        grade = g.choice([1, 2, 3], size=k, p=[0.65, 0.3, 0.05])
        severe = g.random(k) < 0.15 * nl_push[hit]
        grade = np.where(severe, np.maximum(grade, 3), grade)
        if term == "reild":
            grade = np.maximum(grade, 3)
        onset = np.minimum(g.integers(1, 90, k), end_days[hit]).astype(int)  # never after death or follow-up
        tox_frames.append(pd.DataFrame({"patient_id": pid[hit], "date": start[hit] + onset.astype(
            "timedelta64[D]"), "term": term, "grade": grade, "related_to_sirt": True}))
    toxicities = pd.concat(tox_frames, ignore_index=True)

    # --- symptoms for carcinoid-syndrome patients: baseline and 3 months
    cs = patients["carcinoid_syndrome"].to_numpy(bool) & (end_m >= 3.0)
    ncs = int(cs.sum())
    fl0 = np.round(g.uniform(2, 8, ncs), 0)
    bm0 = np.round(g.uniform(4, 10, ncs), 0)
    improve = np.clip(resp_frac[cs] + g.normal(0, 0.3, ncs), 0, 1)
    symptoms = pd.DataFrame({
        "patient_id": np.concatenate([pid[cs], pid[cs]]),
        "date": np.concatenate([start[cs] - np.timedelta64(7, "D"), start[cs] + np.timedelta64(91, "D")]),
        "flushing_per_day": np.concatenate([fl0, np.round(fl0 * (1 - improve), 0)]),
        "bowel_movements_per_day": np.concatenate([bm0, np.round(bm0 * (1 - 0.7 * improve), 0)]),
    })
    tables = {"patients": patients, "treatments": treatments, "lesions": lesions, "measurements": measurements,
              "labs": labs, "toxicities": toxicities, "symptoms": symptoms, "events": events}
    return validate_cohort(tables, source=f"synthetic(n={n})")


def _expand_lesions(l_pat: np.ndarray, n: int, v_pat: np.ndarray) -> np.ndarray:
    """Lesion indices of every visit (vectorised: lesions of a patient are contiguous)."""
    counts = np.bincount(l_pat, minlength=n)
    first = np.cumsum(counts) - counts
    reps = counts[v_pat]
    base = np.repeat(first[v_pat], reps)
    within = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    return base + within
