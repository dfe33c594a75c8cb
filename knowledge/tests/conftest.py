import pytest


@pytest.fixture
def id_tenant(make_tenant):
    return make_tenant("toko", locale="id")


@pytest.fixture
def en_tenant(make_tenant):
    return make_tenant("shop", locale="en")
