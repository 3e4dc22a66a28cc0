from countycare.synth.erase import erase_community


def test_same_seed_gives_the_same_county(make_county, fingerprint):
    first = make_county(1500, seed=11)
    first_print = fingerprint(first.community.pk)
    erase_community(first.community)
    second = make_county(1500, seed=11)
    assert fingerprint(second.community.pk) == first_print


def test_another_seed_gives_another_county(make_county, fingerprint):
    first = make_county(1500, seed=11)
    first_print = fingerprint(first.community.pk)
    erase_community(first.community)
    other = make_county(1500, seed=12)
    assert fingerprint(other.community.pk) != first_print
