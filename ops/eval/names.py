"""Synthetic name material for the evaluation set and the benchmark. Not real people.

Per country: given names by sex and family names, each entry a tuple of spellings that occur for the
same name (the first is the one a profile most often carries), with rough frequency weights so that
the very common names (Nguyễn, Mohammed…) are as common as they are in referrals. The matcher never
sees these tables: it has to find the variants on its own.
"""

from __future__ import annotations

Spellings = tuple[str, ...]

# (weight, spellings)
Table = list[tuple[int, Spellings]]

COUNTRIES: dict[str, dict[str, object]] = {}


def _t(*entries: tuple[int, str]) -> Table:
    return [(w, tuple(s.split("/"))) for w, s in entries]


VIETNAM = {
    "nationality": ("Vietnamese", "Vietnamese", "Viet Nam", "Vietnam"),
    "family": _t(
        (38, "Nguyễn/Nguyen/Nguyen/Ngyuen"),
        (11, "Trần/Tran"),
        (9, "Lê/Le"),
        (7, "Phạm/Pham"),
        (5, "Hoàng/Hoang"),
        (5, "Huỳnh/Huynh"),
        (4, "Phan/Phan"),
        (4, "Vũ/Vu/Vo"),
        (3, "Đặng/Dang"),
        (3, "Bùi/Bui"),
        (2, "Đỗ/Do"),
        (2, "Hồ/Ho"),
        (2, "Ngô/Ngo"),
        (2, "Dương/Duong"),
        (1, "Lý/Ly"),
    ),
    "middle": {"male": _t((6, "Văn/Van"), (2, "Đức/Duc"), (1, "Quang/Quang"), (1, "Minh/Minh")),
               "female": _t((6, "Thị/Thi"), (2, "Ngọc/Ngoc"), (1, "Thu/Thu"), (1, "Thanh/Thanh"))},
    "given": {
        "male": _t(
            (5, "Minh/Minh"), (4, "Anh/Anh"), (3, "Hùng/Hung"), (3, "Dũng/Dung"), (3, "Tuấn/Tuan"),
            (3, "Long/Long"), (3, "Nam/Nam"), (2, "Hải/Hai"), (2, "Phúc/Phuc"), (2, "Khánh/Khanh"),
            (2, "Quân/Quan"), (2, "Huy/Huy"), (2, "Thắng/Thang"), (1, "Bảo/Bao"), (1, "Đạt/Dat"),
            (1, "Hiếu/Hieu"), (1, "Trung/Trung"), (1, "Thành/Thanh"), (1, "Sơn/Son"), (1, "Việt/Viet"), (1, "Kiên/Kien"),
            (1, "Cường/Cuong"), (1, "Lâm/Lam"), (1, "Hòa/Hoa"), (1, "Tiến/Tien"), (1, "Vinh/Vinh"), (1, "Khoa/Khoa"),
        ),
        "female": _t(
            (4, "Linh/Linh"), (3, "Lan/Lan"), (3, "Hoa/Hoa"), (3, "Mai/Mai"), (2, "Thảo/Thao"),
            (2, "Trang/Trang"), (2, "Hương/Huong"), (2, "Nhung/Nhung"), (2, "Hằng/Hang"), (1, "Vy/Vy/Vi"),
            (1, "Ngân/Ngan"), (1, "Phương/Phuong"), (1, "Quỳnh/Quynh"), (1, "Yến/Yen"), (1, "Tuyết/Tuyet"), (1, "Diệp/Diep"),
            (1, "Hạnh/Hanh"), (1, "Loan/Loan"), (1, "Giang/Giang"), (1, "Uyên/Uyen"),
        ),
    },
    "nicknames": {"male": ["Tony", "Lee", "Kevin", "Bin", "Ti"], "female": ["Lily", "Kim", "Na", "Cindy"]},
    "style": "vietnamese",
}

ALBANIA = {
    "nationality": ("Albanian", "Albanian", "Albania"),
    "family": _t(
        (5, "Hoxha/Hoxha/Hoxa/Hodja"), (4, "Shehu/Shehu/Sheu"), (3, "Leka/Leka"), (3, "Dervishi/Dervishi/Dervish"),
        (3, "Kola/Kola"), (3, "Gjoka/Gjoka/Gioka"), (2, "Çela/Cela/Chela"), (3, "Krasniqi/Krasniqi/Krasniki"),
        (3, "Berisha/Berisha"), (2, "Hysa/Hysa/Hisa"), (2, "Prifti/Prifti"), (2, "Mema/Mema"), (2, "Basha/Basha"),
        (2, "Dushku/Dushku"), (2, "Lika/Lika"), (2, "Marku/Marku"), (1, "Gashi/Gashi"), (1, "Zeqiri/Zeqiri/Zekiri"),
        (1, "Brahimi/Brahimi"), (1, "Cani/Cani"), (1, "Hasani/Hasani"), (1, "Kastrati/Kastrati"), (1, "Muça/Muca/Mucha"),
        (1, "Rama/Rama"), (1, "Sula/Sula"), (1, "Topalli/Topalli"), (1, "Vata/Vata"),
    ),
    "given": {
        "male": _t(
            (3, "Ardit/Ardit"), (3, "Arben/Arben"), (2, "Besnik/Besnik"), (2, "Dritan/Dritan"), (3, "Endrit/Endrit"),
            (3, "Erion/Erion"), (2, "Flamur/Flamur"), (2, "Gentian/Gentian/Xhentian"), (3, "Klajdi/Klajdi/Klaidi"),
            (2, "Kristi/Kristi"), (2, "Luan/Luan"), (2, "Redon/Redon"), (2, "Rei/Rei"), (2, "Eraldo/Eraldo"),
            (2, "Jurgen/Jurgen/Xhurgen"), (2, "Ergys/Ergys/Ergis"),
            (1, "Arlind/Arlind"), (1, "Blerim/Blerim"), (1, "Denis/Denis"), (1, "Elton/Elton"), (1, "Fatjon/Fatjon"),
            (1, "Indrit/Indrit"), (1, "Kevin/Kevin"), (1, "Orges/Orges"), (1, "Sokol/Sokol"), (1, "Valon/Valon"),
        ),
        "female": _t(
            (3, "Elira/Elira"), (2, "Arta/Arta"), (2, "Besa/Besa"), (2, "Blerina/Blerina"), (2, "Dorina/Dorina"),
            (2, "Era/Era"), (2, "Jonida/Jonida"), (2, "Klea/Klea"), (2, "Xhesika/Xhesika/Jesika"), (2, "Ënxhi/Enxhi/Enji"),
            (1, "Amarilda/Amarilda"), (1, "Anisa/Anisa"), (1, "Erisa/Erisa"), (1, "Fjona/Fjona/Fiona"), (1, "Greta/Greta"),
            (1, "Kejsi/Kejsi/Keisi"), (1, "Megi/Megi"), (1, "Rea/Rea"),
        ),
    },
    "nicknames": {"male": ["Marco", "Niko", "Tony", "Alex"], "female": ["Ela", "Sara", "Maria"]},
    "style": "western",
}

ERITREA = {
    "nationality": ("Eritrean", "Eritrean", "Eritrea"),
    "family": _t(
        (4, "Tesfay/Tesfaye/Tesfai"), (4, "Haile/Hayle/Hailu"), (3, "Gebremedhin/Ghebremedhin/Gebremedin"),
        (3, "Tekle/Teklay/Teckle"), (3, "Berhe/Berhe"), (2, "Berhane/Berhane/Birhane"), (3, "Kidane/Kidane"),
        (2, "Mebrahtu/Mebrahtu/Mebratu"), (2, "Weldemariam/Woldemariam/Weldemaryam"), (2, "Habte/Habte/Habtay"),
        (2, "Ghebreyesus/Gebreyesus/Gebreiyesus"), (2, "Asmelash/Asmelash"), (2, "Tewelde/Tewolde/Tawelde"),
        (2, "Yemane/Yemane"), (2, "Andemariam/Andemariam"), (2, "Zerai/Zeray"),
        (1, "Araya/Araya/Araia"), (1, "Fessehaye/Fessehaye/Fishaye"), (1, "Ghirmay/Ghirmay/Girmay"), (1, "Kahsay/Kahsay/Kasay"),
        (1, "Negassi/Negassi/Negasi"), (1, "Okubamichael/Okubamichael"), (1, "Russom/Russom/Rusom"), (1, "Solomon/Solomon"),
    ),
    "given": {
        "male": _t(
            (3, "Yonas/Yonas/Jonas"), (3, "Daniel/Daniel"), (2, "Filmon/Filmon/Philmon"), (2, "Semere/Semere/Semre"),
            (2, "Tesfaldet/Tesfaldet"), (2, "Mehari/Mehari"), (3, "Robel/Robel"), (2, "Kibrom/Kibrom/Kbrom"),
            (2, "Yohannes/Yohannes/Johannes/Yohanes"), (2, "Merhawi/Merhawi"), (2, "Biniam/Biniam/Biniyam"),
            (2, "Abel/Abel"), (2, "Samuel/Samuel"), (1, "Efrem/Efrem/Ephrem"),
            (1, "Henok/Henok/Hanok"), (1, "Amanuel/Amanuel/Emanuel"), (1, "Natnael/Natnael/Nathnael"), (1, "Okbay/Okbay/Ukbay"),
            (1, "Dawit/Dawit/Dawite"), (1, "Michael/Mikael/Mikiel"), (1, "Yafet/Yafet/Yafiet"), (1, "Aron/Aron/Aaron"),
        ),
        "female": _t(
            (3, "Senait/Senait/Senayt"), (2, "Helen/Helen"), (2, "Saba/Saba"), (2, "Winta/Winta"), (2, "Luwam/Luwam"),
            (2, "Selam/Selam"), (2, "Feven/Feven/Fiven"), (2, "Eden/Eden"), (2, "Rahwa/Rahwa"), (1, "Yordanos/Yordanos"),
            (1, "Hiwet/Hiwet/Hewet"), (1, "Merhawit/Merhawit"), (1, "Selamawit/Selamawit"), (1, "Tsega/Tsega/Sega"),
            (1, "Ruta/Ruta"), (1, "Milen/Milen/Milien"), (1, "Hanna/Hanna/Hana"),
        ),
    },
    "nicknames": {"male": ["Dani", "Yoni", "Sami"], "female": ["Seni", "Lulu"]},
    "style": "patronymic",
}

SUDAN = {
    "nationality": ("Sudanese", "Sudanese", "Sudan"),
    "family": _t(
        (5, "Ali/Ali/Aly"), (4, "Hassan/Hassan/Hasan"), (4, "Hussein/Hussein/Husain/Hussain"), (4, "Abdalla/Abdalla/Abdullah/Abdallah"),
        (3, "Ishag/Ishag/Ishaq/Isaac"), (4, "Adam/Adam/Adem"), (2, "Elnour/Elnour/El Nour/Alnour"), (3, "Osman/Osman/Othman/Usman"),
        (3, "Suleiman/Suleiman/Sulaiman/Sulieman"), (2, "Haroun/Haroun/Harun"), (2, "Yagoub/Yagoub/Yaqub/Yacoub"),
        (2, "Bakheit/Bakheit/Bakhit"), (2, "Abakar/Abakar/Abaker"), (2, "Idris/Idris/Idriss"), (2, "Mahmoud/Mahmoud/Mahmud"),
        (1, "Babiker/Babiker/Babikir"), (1, "Elamin/Elamin/Al Amin"), (1, "Fadul/Fadul/Fadl"), (1, "Gasim/Gasim/Qasim"),
        (1, "Juma/Juma/Jumaa"), (1, "Mustafa/Mustafa/Mostafa"), (1, "Nimir/Nimir/Nimr"), (1, "Tijani/Tijani/Tigani"),
    ),
    "given": {
        "male": _t(
            (9, "Mohammed/Muhammad/Mohamed/Mohammad/Muhammed/Mohamad"), (5, "Ahmed/Ahmad/Ahmed"), (3, "Omer/Omar/Umar"),
            (3, "Osman/Osman/Othman"), (3, "Abdelrahman/Abdulrahman/Abdalrahman/Abdul Rahman"), (3, "Ibrahim/Ibrahim/Ebrahim"),
            (3, "Adam/Adam"), (2, "Yousif/Yusuf/Yousef/Youssef"), (2, "Mustafa/Mustafa/Mostafa"), (2, "Hamza/Hamza"),
            (2, "Khalid/Khalid/Khaled"), (2, "Musab/Musab/Mosab"), (2, "Amir/Amir/Ameer"), (2, "Abubakar/Abubakar/Abu Bakr"),
            (1, "Elsadig/Elsadig/Al Sadiq"), (1, "Hashim/Hashim/Hasheem"), (1, "Mujahid/Mujahid"), (1, "Nasreldin/Nasreldin/Nasr Eldin"),
            (1, "Tariq/Tariq/Tarig"), (1, "Waleed/Waleed/Walid"), (1, "Zakaria/Zakaria/Zakariya"), (1, "Anwar/Anwar/Anouar"),
        ),
        "female": _t(
            (4, "Fatima/Fatima/Fatma"), (3, "Amna/Amna/Amina"), (2, "Hawa/Hawa/Hawaa"), (3, "Mariam/Mariam/Maryam"),
            (2, "Aisha/Aisha/Aysha/Ayesha"), (2, "Khadija/Khadija/Khadidja"), (2, "Salma/Salma"), (2, "Safa/Safa/Safaa"),
            (1, "Rayan/Rayan/Rayyan"), (1, "Huda/Huda/Hoda"), (1, "Nafisa/Nafisa/Nafeesa"), (1, "Zainab/Zainab/Zeinab"),
            (1, "Asma/Asma/Asmaa"), (1, "Sara/Sara/Sarah"),
        ),
    },
    "nicknames": {"male": ["Moha", "Hamo", "Abu"], "female": ["Fati", "Mimi"]},
    "style": "arabic",
}

AFGHANISTAN = {
    "nationality": ("Afghan", "Afghan", "Afghanistan", "Afghani"),
    "family": _t(
        (5, "Ahmadi/Ahmadi/Ahmady"), (4, "Hussaini/Hussaini/Husseini/Hosseini"), (4, "Mohammadi/Mohammadi/Muhammadi/Mohamadi"),
        (3, "Rahimi/Rahimi/Rahemi"), (3, "Karimi/Karimi/Karemi"), (3, "Noori/Noori/Nouri/Nuri"), (3, "Rezaei/Rezaei/Rezai/Rezaee"),
        (2, "Sultani/Sultani/Soltani"), (2, "Popal/Popal"), (2, "Safi/Safi"), (2, "Stanikzai/Stanikzai/Stanekzai"),
        (2, "Wardak/Wardak"), (2, "Jafari/Jafari/Jaffari/Jafary"), (2, "Haidari/Haidari/Heydari/Haideri"), (2, "Amiri/Amiri"),
        (1, "Azizi/Azizi/Azizy"), (1, "Hakimi/Hakimi"), (1, "Niazi/Niazi"), (1, "Qaderi/Qaderi/Kaderi"), (1, "Sadat/Sadat"),
        (1, "Samadi/Samadi"), (1, "Yousufzai/Yousufzai/Yusufzai"), (1, "Zazai/Zazai"),
    ),
    "given": {
        "male": _t(
            (6, "Mohammad/Mohammed/Muhammad/Mohamad"), (4, "Ahmad/Ahmad/Ahmed"), (3, "Ali/Ali"), (3, "Hamid/Hamid/Hameed"),
            (2, "Jawad/Jawad/Javad"), (2, "Mustafa/Mustafa/Mostafa"), (2, "Naveed/Naveed/Navid/Nawid"), (2, "Omid/Omid/Omed/Umid"),
            (2, "Reza/Reza/Rida"), (2, "Sajad/Sajad/Sajjad"), (2, "Samiullah/Samiullah/Sami Ullah"),
            (2, "Zabiullah/Zabiullah/Zabihullah"), (2, "Farid/Farid/Fareed"), (2, "Habib/Habib/Habeeb"), (2, "Rahim/Rahim/Raheem"),
            (1, "Ehsan/Ehsan/Ihsan"), (1, "Fawad/Fawad/Fuad"), (1, "Idrees/Idrees/Idris"), (1, "Khalil/Khalil/Khaleel"),
            (1, "Masoud/Masoud/Masood"), (1, "Nasir/Nasir/Naseer"), (1, "Qasim/Qasim/Kasim"), (1, "Shafiq/Shafiq/Shafik"),
            (1, "Wahid/Wahid/Waheed"), (1, "Yama/Yama"),
        ),
        "female": _t(
            (3, "Fatima/Fatima/Fatema"), (3, "Zahra/Zahra/Zahraa"), (3, "Maryam/Maryam/Mariam"), (2, "Parwana/Parwana/Parvana"),
            (2, "Shabnam/Shabnam"), (2, "Nargis/Nargis/Narges"), (2, "Sima/Sima/Seema"),
            (1, "Farzana/Farzana"), (1, "Hadia/Hadia/Hadiya"), (1, "Laila/Laila/Leila"), (1, "Mursal/Mursal"), (1, "Nazanin/Nazanin"),
            (1, "Roya/Roya"), (1, "Sahar/Sahar"),
        ),
    },
    "nicknames": {"male": ["Jimmy", "Ali", "Sami"], "female": ["Zara", "Mary"]},
    "style": "arabic",
}

NIGERIA = {
    "nationality": ("Nigerian", "Nigerian", "Nigeria"),
    "family": _t(
        (3, "Okafor/Okafor"), (3, "Okonkwo/Okonkwo"), (3, "Adeyemi/Adeyemi/Adeyemy"), (2, "Ogunleye/Ogunleye"), (3, "Eze/Eze"),
        (2, "Obi/Obi"), (2, "Nwosu/Nwosu"), (3, "Osagie/Osagie"), (2, "Igbinedion/Igbinedion"), (3, "Omoregie/Omoregie/Omorogie"),
        (2, "Ehigiator/Ehigiator"), (2, "Aigbe/Aigbe"), (2, "Okoro/Okoro"), (2, "Edokpolo/Edokpolo"), (2, "Ogbeide/Ogbeide"),
        (1, "Adebayo/Adebayo"), (1, "Babatunde/Babatunde"), (1, "Chukwu/Chukwu"), (1, "Ekwueme/Ekwueme"), (1, "Iyamu/Iyamu"),
        (1, "Nwachukwu/Nwachukwu"), (1, "Obaseki/Obaseki"), (1, "Uwadiae/Uwadiae"),
    ),
    "given": {
        "male": _t(
            (2, "Chukwuemeka/Chukwuemeka"), (2, "Oluwaseun/Oluwaseun"), (2, "Adebayo/Adebayo"), (2, "Olumide/Olumide"),
            (2, "Oluwatobi/Oluwatobi"), (2, "Ifeanyi/Ifeanyi/Ifeanyichukwu"), (2, "Chidiebere/Chidiebere"), (2, "Uchenna/Uchenna"),
            (2, "Osaro/Osaro"), (2, "Efosa/Efosa"), (2, "Osasuyi/Osasuyi"), (2, "Emmanuel/Emmanuel/Emanuel"),
            (1, "Chinedu/Chinedu"), (1, "Damilola/Damilola"), (1, "Ikechukwu/Ikechukwu"), (1, "Kelechi/Kelechi"),
            (1, "Obinna/Obinna"), (1, "Segun/Segun"), (1, "Tunde/Tunde"), (1, "Victor/Victor"), (1, "Samuel/Samuel"),
        ),
        "female": _t(
            (4, "Blessing/Blessing"), (3, "Precious/Precious"), (3, "Favour/Favour/Favor"), (2, "Ngozi/Ngozi"),
            (2, "Chiamaka/Chiamaka"), (2, "Esther/Esther"), (2, "Joy/Joy"), (2, "Osasere/Osasere"), (2, "Efe/Efe"),
            (2, "Omosede/Omosede"), (2, "Princess/Princess"), (2, "Gift/Gift"),
            (1, "Adaeze/Adaeze"), (1, "Chioma/Chioma"), (1, "Funmilayo/Funmilayo"), (1, "Ifeoma/Ifeoma"), (1, "Nneka/Nneka"),
            (1, "Osayuki/Osayuki"), (1, "Uyi/Uyi"), (1, "Mercy/Mercy"),
        ),
    },
    "nicknames": {"male": ["Emeka", "Seun", "Bayo", "Tobi", "Osa"], "female": ["Amaka", "Osas", "Sede", "Princess"]},
    "style": "western",
}

ROMANIA = {
    "nationality": ("Romanian", "Romanian", "Romania"),
    "family": _t(
        (4, "Popescu/Popescu"), (3, "Ionescu/Ionescu"), (3, "Stan/Stan"), (3, "Dumitru/Dumitru"), (3, "Constantin/Constantin"),
        (2, "Stoica/Stoica"), (2, "Gheorghe/Gheorghe/Georghe"), (3, "Radu/Radu"), (2, "Munteanu/Munteanu"), (2, "Lungu/Lungu"),
        (2, "Dobre/Dobre"), (2, "Bălan/Balan"), (2, "Marin/Marin"), (2, "Rădulescu/Radulescu"), (2, "Ciobanu/Ciobanu"),
        (2, "Șerban/Serban/Şerban"), (2, "Lăcătuș/Lacatus"), (1, "Ursu/Ursu"),
        (1, "Avram/Avram"), (1, "Barbu/Barbu"), (1, "Cojocaru/Cojocaru"), (1, "Florea/Florea"), (1, "Mocanu/Mocanu"),
        (1, "Nistor/Nistor"), (1, "Oprea/Oprea"), (1, "Rusu/Rusu"), (1, "Toma/Toma"),
    ),
    "given": {
        "male": _t(
            (3, "Andrei/Andrei/Andrey"), (3, "Alexandru/Alexandru/Alexandro"), (3, "Ionuț/Ionut"), (2, "Mihai/Mihai/Mihail"),
            (2, "Florin/Florin"), (2, "Gabriel/Gabriel"), (2, "Marian/Marian"), (2, "Adrian/Adrian"), (2, "Ștefan/Stefan"),
            (2, "Cristian/Cristian/Kristian"), (2, "Vasile/Vasile"), (2, "Costel/Costel"),
            (1, "Bogdan/Bogdan"), (1, "Cosmin/Cosmin"), (1, "Daniel/Daniel"), (1, "Ionel/Ionel"), (1, "Marius/Marius"),
            (1, "Nicolae/Nicolae"), (1, "Robert/Robert"), (1, "Sorin/Sorin"),
        ),
        "female": _t(
            (3, "Denisa/Denisa"), (3, "Andreea/Andreea/Andrea"), (3, "Ioana/Ioana"), (3, "Elena/Elena"), (2, "Bianca/Bianca"),
            (2, "Alexandra/Alexandra"), (2, "Florentina/Florentina"), (2, "Mădălina/Madalina"), (2, "Georgiana/Georgiana"),
            (2, "Roxana/Roxana"), (1, "Alina/Alina"), (1, "Cristina/Cristina"), (1, "Daniela/Daniela"), (1, "Larisa/Larisa"),
            (1, "Nicoleta/Nicoleta"), (1, "Raluca/Raluca"), (1, "Simona/Simona"),
        ),
    },
    "nicknames": {"male": ["Alex", "Nelu", "Costi"], "female": ["Deni", "Ana", "Roxy"]},
    "style": "western",
}

UK = {
    "nationality": ("British", "British", "UK", "United Kingdom"),
    "family": _t(
        (5, "Smith/Smith"), (4, "Jones/Jones"), (3, "Williams/Williams"), (3, "Brown/Brown"), (3, "Taylor/Taylor"),
        (3, "Davies/Davies/Davis"), (2, "Evans/Evans"), (2, "Wilson/Wilson"), (2, "Thomas/Thomas"), (2, "Johnson/Johnson"),
        (2, "Roberts/Roberts"), (2, "Walker/Walker"), (2, "Wright/Wright"), (2, "Robinson/Robinson"), (2, "Thompson/Thompson/Thomson"),
        (2, "Hughes/Hughes"), (2, "Clarke/Clarke/Clark"), (2, "Green/Green"), (2, "Hall/Hall"), (2, "Harris/Harris"),
        (1, "Baker/Baker"), (1, "Cooper/Cooper"), (1, "Edwards/Edwards"), (1, "Hill/Hill"), (1, "Jackson/Jackson"),
        (1, "Lewis/Lewis"), (1, "Morris/Morris"), (1, "Price/Price"), (1, "Turner/Turner"), (1, "Ward/Ward"),
    ),
    "given": {
        "male": _t(
            (3, "Jack/Jack"), (3, "Oliver/Oliver"), (3, "Harry/Harry"), (2, "Charlie/Charlie"), (3, "Kai/Kai/Kye"),
            (3, "Tyler/Tyler"), (2, "Leo/Leo"), (2, "Callum/Callum/Calum"), (3, "Jayden/Jayden/Jaden/Jaydon"),
            (2, "Kyle/Kyle"), (2, "Liam/Liam"), (2, "Reece/Reece/Rhys/Reese"), (2, "Mason/Mason"),
            (1, "Alfie/Alfie"), (1, "Bradley/Bradley"), (1, "Connor/Connor/Conor"), (1, "Ethan/Ethan"), (1, "Harvey/Harvey"),
            (1, "Logan/Logan"), (1, "Owen/Owen"), (1, "Riley/Riley"), (1, "Thomas/Thomas"),
        ),
        "female": _t(
            (3, "Ellie/Ellie/Elly"), (3, "Chloe/Chloe"), (3, "Jessica/Jessica"), (2, "Amelia/Amelia"), (2, "Olivia/Olivia"),
            (2, "Lily/Lily/Lilly"), (2, "Mia/Mia"), (2, "Skye/Skye/Sky"), (2, "Paige/Paige"), (2, "Demi/Demi"),
            (1, "Abigail/Abigail"), (1, "Courtney/Courtney/Kortney"), (1, "Emily/Emily"), (1, "Holly/Holly"), (1, "Kayleigh/Kayleigh/Kayley"),
            (1, "Megan/Megan/Meghan"), (1, "Shannon/Shannon"), (1, "Tia/Tia"),
        ),
    },
    "nicknames": {"male": ["Jay", "Charlie", "Ollie"], "female": ["Jess", "Ells", "Liv"]},
    "style": "western",
}

COUNTRIES = {
    "vn": VIETNAM,
    "al": ALBANIA,
    "er": ERITREA,
    "sd": SUDAN,
    "af": AFGHANISTAN,
    "ng": NIGERIA,
    "ro": ROMANIA,
    "uk": UK,
}
# Share of referrals by country (rough; UK nationals are the largest single group).
COUNTRY_WEIGHTS = {"vn": 16, "al": 14, "er": 12, "sd": 12, "af": 10, "ng": 9, "ro": 9, "uk": 18}

LOCAL_AUTHORITIES = [
    ("Harrow", "HAR", "HA1"),
    ("Brent", "BRE", "NW10"),
    ("Hillingdon", "HIL", "UB8"),
    ("Hounslow", "HOU", "TW3"),
    ("Hackney", "HAC", "E8"),
    ("Tower Hamlets", "TOW", "E1"),
    ("Kent", "KEN", "ME14"),
    ("Croydon", "CRO", "CR0"),
]
INDICATORS = [
    "debt bondage",
    "cannabis cultivation",
    "county lines",
    "sexual exploitation",
    "controlled phone",
    "forced labour",
    "domestic servitude",
    "moved between addresses",
    "older boyfriend",
    "nail bar work",
]
PLACES = ["Victoria Coach Station", "Wembley Park", "Heathrow Terminal 5", "Dover ferry port", "car wash, High Road", "nail bar, Station Road"]
