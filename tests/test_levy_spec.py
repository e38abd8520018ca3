"""SamplerSpec / EtaSpec (levytts.levy.spec): the one text form of sampler conditions and η, round trips, bad input."""
import math

import pytest

from levytts.levy.sampling import eta_schedule
from levytts.levy.spec import POPOV_T0, EtaSpec, SamplerSpec, eta_preset


@pytest.mark.parametrize("text", ["ode:euler:10", "sde-e:ei:10:popov(0.3,0.3)", "sde-a:lim:100", "sde-e:euler:5:0.2",
                                  "sde-e:ei:20:power", "sde-e:ei:20:power(0.5)", "sde-e:ei:500:preset",
                                  "sde-e:ei:7:popov(0.1,0.5,0.85)", "sde-e:ei:7:popov(0.1,0.5,0.7,c=10)",
                                  "dlpm:50", "dlim:20", "dlim:20:0.5", "ode:ei:2"])
def test_sampler_spec_round_trip(text):
    spec = SamplerSpec.parse(text)
    assert str(spec) == text and SamplerSpec.parse(str(spec)) == spec
    assert SamplerSpec.from_dirname(spec.dirname) == spec


def test_sampler_spec_fields_short_forms_and_dirnames():
    assert SamplerSpec.parse("sde-e:ei:10:popov(0.3,0.3)") == SamplerSpec("sde-e", "ei", 10, EtaSpec("popov", 0.3, 0.3))
    assert SamplerSpec.parse("ode:30") == SamplerSpec("ode", "euler", 30)  # the solver left out: Euler
    assert SamplerSpec.parse("dlpm:-:20") == SamplerSpec.parse("dlpm:20") == SamplerSpec("dlpm", "-", 20)
    # the older η text inside a spec reads too, and is written back in the canonical form
    assert str(SamplerSpec.parse("sde-e:ei:10:popov:0.3,0.3")) == "sde-e:ei:10:popov(0.3,0.3)"
    # directory names: the `levytts eval` layout (<sampler>_N<steps>), the Euler ODE without its solver
    assert SamplerSpec.parse("ode:euler:10").dirname == "ode_N10"
    assert SamplerSpec.parse("sde-e:ei:5").dirname == "sde-e_ei_N5"
    assert SamplerSpec.parse("dlim:20:0.5").dirname == "dlim_eta0.5_N20"
    assert SamplerSpec.parse("sde-e:ei:10:popov(0.3,0.3)").dirname == "sde-e_ei_popov0.3,0.3_N10"
    # older names still read: the image branch's entries and the TTS recipe directories
    assert SamplerSpec.from_dirname("sde-e_ei_20") == SamplerSpec("sde-e", "ei", 20)
    assert SamplerSpec.from_dirname("dlpm_20") == SamplerSpec("dlpm", "-", 20)
    assert SamplerSpec.from_dirname("ode_N10") == SamplerSpec("ode", "euler", 10)
    assert SamplerSpec.parse("sde-e:ei:5").with_eta("popov:0.3,0.3").eta == EtaSpec("popov", 0.3, 0.3)
    assert SamplerSpec.parse("ode:euler:5").with_eta("0.3").eta is None


@pytest.mark.parametrize("bad", ["ode", "", "ode:euler:ten", "a:b:c:d", "ode:euler:0", "ode:-1", "ddpm:ei:10",
                                 "ode:heun:10", "sde-e:lim:10", "ode:euler:10:0.3", "sde-a:ei:10:popov(0.3,0.3)",
                                 "dlpm:20:0.5", "dlim:20:1.5", "dlim:20:power", "dlpm:ei:20", "sde-e:ei:10:lots",
                                 "sde-e:ei:10:popov(0.5,0.3)", "sde-e:ei:10:popov(0.3,0.3,0.2,1)", "ode:euler:1.5"])
def test_bad_sampler_specs_are_one_line_value_errors(bad):
    with pytest.raises(ValueError, match="SAMPLER:SOLVER:N") as err:
        SamplerSpec.parse(bad)
    assert "\n" not in str(err.value) and repr(bad) in str(err.value)


def test_eta_one_meaning_of_a_bare_number_and_the_older_forms():
    # a bare number is a CONSTANT η_t, whatever the caller
    assert EtaSpec.parse("0.3") == EtaSpec.parse(0.3) == EtaSpec("const", 0.3)
    assert EtaSpec.parse("0.3").schedule(0.9946) == 0.3
    # popov: eq. 22; the older popov:ETA,DELTA[,T0] and the {eta, delta, t0, c} mapping are the same spec
    f = EtaSpec.parse("popov(0.2,0.5,0.8)").schedule(1.0)
    ref = eta_schedule(0.2, 0.5, t0=0.8, T=1.0)
    assert all(f(t) == ref(t) for t in (0.01, 0.5, 0.9, 1.0))
    assert EtaSpec.parse("popov:0.2,0.5,0.8") == EtaSpec.parse("popov(0.2,0.5,0.8)") == \
        EtaSpec.parse({"eta": 0.2, "delta": 0.5, "t0": 0.8})
    assert EtaSpec.parse("popov:0.3") == EtaSpec.parse("popov(0.3,0.3)")
    # power / power(P) / power:P
    assert EtaSpec.parse("power") == EtaSpec.parse("power(0.2)") == EtaSpec.parse("power:0.2")
    assert EtaSpec.parse("power:0.5").schedule()(0.25) == 0.5
    # preset: Popov Table 6 at the run's α, solver and N, ramp ending at the process's T
    g = EtaSpec.parse("preset").schedule(0.9946, alpha=1.5, solver="ei", steps=500)
    eta, delta, t0 = eta_preset(1.5, "ei", 500)
    assert (eta, delta, t0) == (0.1, 0.1, POPOV_T0[1.5]) and math.isclose(g(0.5), eta_schedule(eta, delta, t0, 0.9946)(0.5))
    with pytest.raises(ValueError, match="needs the run's alpha"):
        EtaSpec.parse("preset").schedule(1.0)
    for text in ("0", "0.25", "popov(0.3,0.3)", "popov(0.1,0.5,0.85)", "power", "power(0)", "preset"):
        assert str(EtaSpec.parse(text)) == text and EtaSpec.parse(str(EtaSpec.parse(text))) == EtaSpec.parse(text)


@pytest.mark.parametrize("bad", ["nan", "-1", "inf", "popov:nan,1", "popov:0.5,0.3", "popov:0.3,0.3,0.2,1", "power:-1",
                                 "power:nan", "powerful", "popov", "popov()", "popov(0.3,c=1,c=2)", "lots", "",
                                 float("nan"), -0.5, True, None])
def test_bad_eta_is_a_one_line_value_error(bad):
    with pytest.raises(ValueError, match="bad --eta .*eta must be") as err:
        EtaSpec.parse(bad)
    assert "\n" not in str(err.value)
