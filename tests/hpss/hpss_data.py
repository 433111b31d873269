"""Small inputs made in code (copies of corpus lines and variations) and feeding helpers.

They let the tests run on a fresh clone without the shared corpus; the tests
that read the corpus itself skip when it is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atokio.parsers.base import Parser

#: The six lines of ``corpus/inputs/hpssftplog.txt.gz``.
FTP_TEXT = (
    "Mon Dec 31 00:06:46 2018 dtn01-int.nersc.gov /home/o/operator/.check_ftp.25651 b POPN_Cmd"
    " r r ftp operator fd 0\n"
    "Mon Dec 31 00:06:46 2018 0.010 dtn01-int.nersc.gov 33 /home/o/opera... b o PRTR_Cmd r ftp"
    " operator fd 0\n"
    "Mon Dec 31 00:06:48 2018 0.430 sgn-pub-01.nersc.gov 0 /home/r/regan... b o RETR_Cmd r ftp"
    " wwwhpss\n"
    "Mon Feb 4 16:45:04 2019 457.800 sgn-pub-01.nersc.gov 7184842752 /home/r/regan... b o"
    " RETR_Cmd r ftp wwwhpss\n"
    "Fri Jul 12 15:32:43 2019 2.080 gert01-224.nersc.gov 2147483647 /home/n/nickb... b i"
    " PSTO_Cmd r ftp nickb fd 0\n"
    "Mon Jul 29 15:44:22 2019 0.800 dtn02.nersc.gov 464566784 /home/n/nickb... b o PRTR_Cmd r"
    " ftp nickb fd 0\n"
)

#: The records of :data:`FTP_TEXT` (the ``POPN_Cmd`` line is skipped).
FTP_RECORDS = [
    (
        "pftp",
        {
            "end_timestamp": 1546243606.0,
            "opname": "HL",
            "duration_sec": 0.01,
            "duration_sec_resolution": 0.001,
            "remote_host": "dtn01-int.nersc.gov",
            "bytes": 33,
            "hpss_path": "/home/o/opera...",
            "hpss_uid": "operator",
            "start_timestamp": 1546243605.99,
            "bytes_sec": 3300.0,
        },
    ),
    (
        "ftp",
        {
            "end_timestamp": 1546243608.0,
            "opname": "HL",
            "duration_sec": 0.43,
            "duration_sec_resolution": 0.001,
            "remote_host": "sgn-pub-01.nersc.gov",
            "bytes": 0,
            "hpss_path": "/home/r/regan...",
            "hpss_uid": "wwwhpss",
            "start_timestamp": 1546243608.0 - 0.43,
            "bytes_sec": 0.0,
        },
    ),
    (
        "ftp",
        {
            "end_timestamp": 1549327504.0,
            "opname": "HL",
            "duration_sec": 457.8,
            "duration_sec_resolution": 0.001,
            "remote_host": "sgn-pub-01.nersc.gov",
            "bytes": 7184842752,
            "hpss_path": "/home/r/regan...",
            "hpss_uid": "wwwhpss",
            "start_timestamp": 1549327504.0 - 457.8,
            "bytes_sec": 7184842752 / 457.8,
        },
    ),
    (
        "pftp",
        {
            "end_timestamp": 1562970763.0,
            "opname": "LH",
            "duration_sec": 2.08,
            "duration_sec_resolution": 0.001,
            "remote_host": "gert01-224.nersc.gov",
            "bytes": 2147483647,
            "hpss_path": "/home/n/nickb...",
            "hpss_uid": "nickb",
            "start_timestamp": 1562970763.0 - 2.08,
            "bytes_sec": 2147483647 / 2.08,
        },
    ),
    (
        "pftp",
        {
            "end_timestamp": 1564440262.0,
            "opname": "HL",
            "duration_sec": 0.8,
            "duration_sec_resolution": 0.001,
            "remote_host": "dtn02.nersc.gov",
            "bytes": 464566784,
            "hpss_path": "/home/n/nickb...",
            "hpss_uid": "nickb",
            "start_timestamp": 1564440262.0 - 0.8,
            "bytes_sec": 464566784 / 0.8,
        },
    ),
]

#: Lines of ``corpus/inputs/hsilog.txt.gz`` of every layout (hsi LH/HL/FU/FR, htar).
HSI_TEXT = (
    "Sat Aug  9 00:05:01 2019 oogabooga.edu hsi 35136 1035\tLH\t-1\t0.03\t0\t0.0\t0\t"
    "s6c0.out.20190727_041006.1\t/home/c/glock/s6_data/ao/s6c0/2019/s6c0.out.20190727_041006.1"
    "\t35136\n"
    "Sat Aug 10 00:05:28 2019 cori02-224.nersc.gov htar 58888 14301\tcreate\tLH\t0\t58178668032"
    "\t397.20\t146472.0\t/nersc/projects/ptf/ztf/ce7fb38bcb0847f4bb668c8dde847f10.tar\t\t5\t58888\n"
    "Sat Aug 10 00:12:40 2019 dtn01.nersc.gov hsi 60004 12059\tHL\t0\t0.00\t3665510098\t68638.4"
    "\t0\t<stdout>\t/home/projects/fungal/archive/Coprinus_phaeopunctatus.Copph2.08092019.tar.gz"
    "\t60004\n"
    "Sun Aug 11 00:05:14 2019 dtn03.nersc.gov hsi 72820 2204\tFU\t0\t0.00\t215328\t0.0\t0\t"
    "/home/n/ngeetrop/ngeet_archive/backups/v1.3.0-201907070000-archives.tar.idx\t\n"
    "Mon Aug 12 11:31:21 2019 cori04-224.nersc.gov hsi 72185 19323\tFR\t0\t0.00\t0\t0.0\t0\t"
    "/home/d/du/QC_pub.tgz\t/home/d/du/before 08082919/./QC_pub.tgz\n"
)

#: Three lines of ``corpus/inputs/globuslogs.txt.gz`` (a plain one, a FILE with a space,
#: a FILE with a space and ``=``).
GLOBUS_TEXT = (
    "DATE=20190731073044.992375 HOST=dtn11.nersc.gov PROG=globus-gridftp-server NL.EVNT=FTP_INFO"
    " START=20190731073030.432241 USER=glock FILE=/home/c/glock/pic/constance/forecast/Global/"
    "complete/wrf2019051000/wrfout_d01_2019-05-10_00:00:00 BUFFER=87040 BLOCK=262144"
    " NBYTES=2753284040 VOLUME=/ STREAMS=1 STRIPES=1 DEST=[192.101.102.150] TYPE=STOR CODE=226\n"
    "DATE=20190731073326.591277 HOST=dtn11.nersc.gov PROG=globus-gridftp-server NL.EVNT=FTP_INFO"
    " START=20190731073323.935428 USER=glock FILE=/home/c/glock/NCAR/wrfdetail/wrf1hr_d03_2015"
    " 04-25_00:00:00 BUFFER=235104 BLOCK=262144 NBYTES=3064334152 VOLUME=/ STREAMS=4 STRIPES=1"
    " DEST=[128.117.181.64] TYPE=RETR CODE=226\n"
    "DATE=20190731073329.026112 HOST=dtn11.nersc.gov PROG=globus-gridftp-server NL.EVNT=FTP_INFO"
    " START=20190731073325.974689 USER=glock FILE=/home/c/glock/NCAR/wrfdetail/wrf1hr=d03_2015"
    " 05-03_00:00:00 BUFFER=235104 BLOCK=262144 NBYTES=3064334152 VOLUME=/ STREAMS=4 STRIPES=1"
    " DEST=[128.117.181.62] TYPE=RETR CODE=226\n"
)

#: A small daily report: two keyed tables, a list table with time spans, a
#: non-table section, the cartridge matrix (``+`` separators) and a last table
#: that ends the input without a blank line.
REPORT_TEXT = """HPSS Report for Date 2018-08-09

Archive : IO Totals by HPSS Client Gateway (UI) Host
Host             Users      IO_GB       Ops
===============  =====  =========  ========
heart               53   148740.6     27991
Total               58   178279.2     29685
HPSS ACCOUNTING:         224962.6

Archive: Migration Purge Report
Storage Class              SC  MigFiles   Mig (GB)         MigTime
=========================  ==  ========  =========  ==============
Small Disk                  4     52681     7040.0      0-05:20:07
TOTAL                             57860   104707.9      bad-time

Archive: No HPSS Configuration Changes

Cartridges Moved Between LSMs on SL8500 Complex (Src on Left, Dest on Top)
        1,0  1,1  1,2  1,3    1,4
       ==== ==== ==== ==== + ====
  1,0 |                    |

Hpss: Tape Drive Report
DriveTyp  Count  Cleans  Lock%  Mnt%
========  =====  ======  =====  =====
   T10KB      4       0    0.0    0.0
 IBM3592     19       x    5.3   54.7"""


def chunked(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (sorted, deduplicated, clipped)."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    pieces = []
    start = 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


def feed_all(parser: Parser[Any], chunks: Sequence[bytes]) -> list[Any]:
    """Feed the chunks in order, close, and return every record."""
    records: list[Any] = []
    for chunk in chunks:
        records.extend(parser.feed(chunk))
    records.extend(parser.close())
    return records
