"""Demo knowledge for the ``demo`` tenant (an Indonesian online shop): shipping,
returns and payment. Indexed inline so the demo answers at once; running it again
changes nothing (upserts are idempotent by external id and content)."""

from __future__ import annotations

from knowledge import services
from tenants.models import Tenant
from tenants.seed import DEMO_TENANT_ID

DEMO_DOCUMENTS = [
    {
        "external_id": "demo-pengiriman",
        "title": "Pengiriman",
        "tags": ["faq", "pengiriman"],
        "body": (
            "# Pengiriman\n\n"
            "Pesanan yang dibayar sebelum pukul 14.00 WIB dikirim pada hari yang sama, Senin sampai Sabtu. "
            "Barang dikirim dari gudang kami di Bandung melalui JNE, J&T, SiCepat atau GoSend.\n\n"
            "## Lama pengiriman\n\n"
            "Estimasi tiba 1-2 hari kerja untuk Pulau Jawa dan 3-5 hari kerja untuk luar Jawa. "
            "Nomor resi dikirim lewat WhatsApp dan email setelah paket diserahkan ke kurir.\n\n"
            "## Ongkos kirim\n\n"
            "Gratis ongkir untuk pembelian di atas Rp150.000 ke seluruh Indonesia. "
            "Di bawah itu ongkos kirim dihitung otomatis saat checkout sesuai berat dan tujuan."
        ),
    },
    {
        "external_id": "demo-retur",
        "title": "Pengembalian barang (retur)",
        "tags": ["faq", "retur"],
        "body": (
            "# Retur dan pengembalian dana\n\n"
            "Barang dapat dikembalikan dalam 7 hari sejak diterima, selama belum dipakai, label masih terpasang "
            "dan disertai bukti pembelian. Barang promo dan pakaian dalam tidak dapat diretur.\n\n"
            "## Cara retur\n\n"
            "Hubungi admin lewat chat dengan nomor pesanan dan foto barang. Setelah disetujui, kirim barang ke "
            "alamat gudang Bandung; ongkos kirim retur ditanggung pembeli kecuali barang cacat atau salah kirim.\n\n"
            "## Pengembalian dana\n\n"
            "Dana dikembalikan ke metode pembayaran semula dalam 3-7 hari kerja setelah barang kami terima dan "
            "diperiksa."
        ),
    },
    {
        "external_id": "demo-pembayaran",
        "title": "Metode pembayaran",
        "tags": ["faq", "pembayaran"],
        "body": (
            "# Pembayaran\n\n"
            "Kami menerima transfer bank (BCA, Mandiri, BNI, BRI), virtual account, QRIS, GoPay, OVO, "
            "ShopeePay dan kartu kredit. Cicilan 0% tersedia untuk kartu kredit dengan pembelian minimal "
            "Rp500.000.\n\n"
            "## Batas waktu pembayaran\n\n"
            "Pesanan otomatis dibatalkan bila belum dibayar dalam 24 jam. Pembayaran terverifikasi otomatis; "
            "tidak perlu mengirim bukti transfer.\n\n"
            "## COD\n\n"
            "Bayar di tempat (COD) tersedia untuk wilayah Jabodetabek dan Bandung dengan maksimal belanja "
            "Rp1.000.000."
        ),
    },
]


def run(stdout) -> None:
    tenant = Tenant.objects.filter(pk=DEMO_TENANT_ID).first()
    if tenant is None:
        stdout.write("knowledge: no demo tenant, skipped.")
        return
    for item in DEMO_DOCUMENTS:
        doc = services.document_upsert(tenant=tenant, index_now=True, **item)
        stdout.write(f"knowledge: {doc.external_id} {doc.action} ({doc.status}, {doc.chunk_count} chunks).")
