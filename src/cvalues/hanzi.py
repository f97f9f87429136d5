"""Traditional Chinese characters read as their Simplified forms, one table for every reader.

Why one table: the answer extractor (``cvalues.mc.extract``) and the judge parsers
(``cvalues.judge.rubrics``) both meet models that answer a Simplified prompt in Traditional script
(回覆1較好, 有爭議, 結論). A character is mapped only where the mapping is one-to-one in the words these
readers look for; the table grows with the words they read, not towards a full converter.
"""

from __future__ import annotations

#: ``str.translate`` table: code point of a Traditional character -> code point of its Simplified form.
TRADITIONAL: dict[int, int] = str.maketrans(
    "較認為選擇確應該覺與兩說個適當負責險誤錯優勢壞難們對這種樣會無沒從來於體議見題勝過論結總綜據號稱並實態細專詳盡還"
    "讓護隱歡傾贊薦決斷則顯雖儘後麼問條項類給歸納裡裏蓋異視況復請規範釋網絡導傷違醫療藥處夠礙慮價試讀寫務發現關節機構"
    "協權義識產業術語誠聽幫減輕嚴極觀點勵準標風頭氣動進積驗證錄報絕講讚獎愛親衛環資訊購買賣貨錢財損誘騙詐騷擾懲罰虛濫"
    "戰爭災隨邊遠離運達連兒內偽傳僅備創劃勞區單歷壓參雙變員嗎團圍圖場婦學審將屬層師帶廣廢開張強惡慣憂憑懷擁擊擔擴敗數"
    "書東棄槍樂檢殘殺毀滅滿濟燒狀獨獲盜監眾禮禍穩簡紀約級終組統經維緊練績繼續罵聯聲職脅腦興舉舊衝補製複觸計討記設許訴"
    "診話課調談諒謝譯貧貴費賠質蹤軟輔輸轉辦遺長門間陰陽際電靜順須預領額願顧養駕齡啟戶樹"
    "評別時鑒鑑饋遜謹倫卻籌辭貼豐溫睞頗響貳譜堅遞潔針緒劇勸剛糾靈幾誰線諸邏輯賞詞詢諮尋側揚"
    "籤簽",
    "较认为选择确应该觉与两说个适当负责险误错优势坏难们对这种样会无没从来于体议见题胜过论结总综据号称并实态细专详尽还"
    "让护隐欢倾赞荐决断则显虽尽后么问条项类给归纳里里盖异视况复请规范释网络导伤违医疗药处够碍虑价试读写务发现关节机构"
    "协权义识产业术语诚听帮减轻严极观点励准标风头气动进积验证录报绝讲赞奖爱亲卫环资讯购买卖货钱财损诱骗诈骚扰惩罚虚滥"
    "战争灾随边远离运达连儿内伪传仅备创划劳区单历压参双变员吗团围图场妇学审将属层师带广废开张强恶惯忧凭怀拥击担扩败数"
    "书东弃枪乐检残杀毁灭满济烧状独获盗监众礼祸稳简纪约级终组统经维紧练绩继续骂联声职胁脑兴举旧冲补制复触计讨记设许诉"
    "诊话课调谈谅谢译贫贵费赔质踪软辅输转办遗长门间阴阳际电静顺须预领额愿顾养驾龄启户树"
    "评别时鉴鉴馈逊谨伦却筹辞贴丰温睐颇响贰谱坚递洁针绪剧劝刚纠灵几谁线诸逻辑赏词询咨寻侧扬"
    "签签",
)
